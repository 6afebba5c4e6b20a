// A deterministic classification task generated in code, for the training job and its tests: nothing
// can be downloaded here, so the data are noisy class prototypes.
//
// Each class has a prototype, a random point in `features` dimensions scaled by `separation`; a sample
// is its class's prototype plus unit Gaussian noise. Every epoch draws fresh training samples (so a
// model cannot memorize the noise and its held-out accuracy keeps climbing for several epochs), while
// the held-out samples stay fixed. The same seed, options and epoch give the same tensors, bit for bit.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "torchsystem/json.hpp"

namespace torchsystem {

struct SyntheticDataOptions {
  std::int64_t features = 784;
  std::int64_t classes = 10;
  std::int64_t train_samples = 4000;  ///< drawn afresh for every epoch
  std::int64_t test_samples = 2000;   ///< drawn once
  double separation = 0.12;           ///< the prototypes' scale against the unit noise: smaller is harder

  /// Reads {"features", "classes", "train_samples", "test_samples", "separation"}, each optional.
  /// Throws ArgumentError with the path `where.<key>` for a wrong key or value.
  static SyntheticDataOptions from_json(const Json& json, const std::string& where);
  Json to_json() const;
};

struct Samples {
  at::Tensor inputs;   ///< float32 [samples, ...]
  at::Tensor targets;  ///< int64 [samples] class indices, or float32 [samples, ...] regression targets
};

class PrototypeTask {
 public:
  /// The task of `seed`: its prototypes and held-out samples. Uses its own generators; the global one is
  /// left alone.
  PrototypeTask(const SyntheticDataOptions& options, std::uint64_t seed);

  /// The training samples of `epoch` (1-based): fresh for every epoch, the same for the same epoch.
  Samples training_samples(std::int64_t epoch) const;
  const Samples& test_samples() const noexcept { return test_; }
  const SyntheticDataOptions& options() const noexcept { return options_; }

 private:
  Samples draw(std::int64_t count, std::uint64_t seed) const;

  SyntheticDataOptions options_;
  std::uint64_t seed_;
  at::Tensor prototypes_;
  Samples test_;
};

}  // namespace torchsystem
