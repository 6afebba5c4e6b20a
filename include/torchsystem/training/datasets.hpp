// What the training job trains on: a data set of IDX files (the format of MNIST, Fashion-MNIST and
// KMNIST, gzip'd or not), or the synthetic task (synthetic_data.hpp) for tests.
//
//   "data": {"name": "FashionMNIST", "root": "/usr/share/datasets/fashion-mnist"}
//   "data": {"name": "FashionMNIST", "normalize": [0.2860, 0.3530]}      // (x - mean) / std after [0, 1]
//   "data": {"name": "synthetic", "train_samples": 512}                   // the options of
//   synthetic_data.hpp
//
// Every file is checked before any training starts: its magic number, its dimensions, and its size
// against what its header announces; a missing, truncated or corrupt file is a DataError naming it.
// The samples are held as one contiguous tensor per split, so that batches are slices of it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "torchsystem/json.hpp"
#include "torchsystem/training/synthetic_data.hpp"

namespace torchsystem {

struct DataOptions {
  /// "synthetic", or an IDX data set: "FashionMNIST", "MNIST" or "KMNIST".
  std::string name = "synthetic";
  /// The IDX files' directory. FashionMNIST defaults to Debian's dataset-fashion-mnist.
  std::filesystem::path root;
  /// (mean, std) applied after pixels are scaled to [0, 1]; none by default.
  std::optional<std::pair<double, double>> normalize;
  SyntheticDataOptions synthetic;  ///< for "synthetic"

  /// Reads the "data" object; a relative root is taken relative to `base`. ArgumentError with the
  /// path `where.<key>` for a wrong key or value.
  static DataOptions from_json(const Json& json, const std::string& where,
                               const std::filesystem::path& base = {});
  Json to_json() const;
};

/// Debian's dataset-fashion-mnist puts the four files here.
inline const std::filesystem::path fashion_mnist_root = "/usr/share/datasets/fashion-mnist";

/// Reads an IDX pair: images (magic 0x00000803, unsigned bytes, [count, rows, columns]) scaled to [0, 1]
/// and flattened to float32 [count, rows * columns], and labels (magic 0x00000801, [count]) as int64.
/// Either file may be gzip'd. Throws DataError naming the file.
Samples read_idx(const std::filesystem::path& images, const std::filesystem::path& labels);

/// The training and test samples of a configuration, read or drawn once.
class DataSource {
 public:
  /// Reads the data set's files (checking all of them first) or builds the synthetic task of `seed`.
  DataSource(const DataOptions& options, std::uint64_t seed);

  /// The samples of `epoch` (1-based): a data set's training split, or the synthetic task's fresh draw.
  Samples training_samples(std::int64_t epoch) const;
  const Samples& test_samples() const noexcept { return test_; }
  std::int64_t features() const noexcept { return features_; }
  std::int64_t classes() const noexcept { return classes_; }
  std::int64_t training_size() const noexcept { return training_size_; }
  /// "FashionMNIST (/usr/share/datasets/fashion-mnist): 60000 training and 10000 test samples".
  std::string description() const;

 private:
  DataOptions options_;
  std::optional<PrototypeTask> task_;
  Samples train_;
  Samples test_;
  std::int64_t features_ = 0;
  std::int64_t classes_ = 0;
  std::int64_t training_size_ = 0;
};

}  // namespace torchsystem
