#include "torchsystem/training/synthetic_data.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <ATen/TensorOperators.h>

#include <cmath>
#include <limits>
#include <string>

#include "torchsystem/error.hpp"
#include "torchsystem/value_traits.hpp"
#include "training_support.hpp"

namespace torchsystem {

using training_detail::positive_int;

SyntheticDataOptions SyntheticDataOptions::from_json(const Json& json, const std::string& where) {
  if (!json.is_object()) throw ArgumentError(where, "expected an object, got " + describe_json(json));
  SyntheticDataOptions options;
  for (const auto& [key, value] : json.items()) {
    const std::string path = where + "." + key;
    if (key == "features") {
      options.features = positive_int(value, path, 1 << 20);
    } else if (key == "classes") {
      options.classes = positive_int(value, path, 1 << 16);
    } else if (key == "train_samples") {
      options.train_samples = positive_int(value, path, 1 << 24);
    } else if (key == "test_samples") {
      options.test_samples = positive_int(value, path, 1 << 24);
    } else if (key == "separation") {
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() <= 0) {
        throw ArgumentError(path, "expected a positive float, got " + describe_json(value));
      }
      options.separation = value.get<double>();
    } else {
      throw ArgumentError(
          path, "unknown key (data has features, classes, train_samples, test_samples, separation)");
    }
  }
  if (options.features * options.train_samples > (std::int64_t{1} << 31)) {
    throw ArgumentError(where, "features * train_samples must stay under 2^31 values (8 GiB of floats)");
  }
  return options;
}

Json SyntheticDataOptions::to_json() const {
  return {{"features", features},
          {"classes", classes},
          {"train_samples", train_samples},
          {"test_samples", test_samples},
          {"separation", separation}};
}

namespace {
/// Distinct streams for the prototypes, the held-out samples and each epoch's samples of one seed.
std::uint64_t stream(std::uint64_t seed, std::uint64_t index) {
  return seed ^ ((index + 1) * 0x9E3779B97F4A7C15ULL);
}
}  // namespace

PrototypeTask::PrototypeTask(const SyntheticDataOptions& options, std::uint64_t seed)
    : options_(options), seed_(seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(stream(seed, 0));
  prototypes_ = at::randn({options.classes, options.features}, generator) * options.separation;
  test_ = draw(options.test_samples, stream(seed, 1));
}

Samples PrototypeTask::training_samples(std::int64_t epoch) const {
  return draw(options_.train_samples, stream(seed_, 1 + static_cast<std::uint64_t>(epoch)));
}

Samples PrototypeTask::draw(std::int64_t count, std::uint64_t seed) const {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  Samples samples;
  samples.targets = at::randint(options_.classes, {count}, generator, at::kLong);
  samples.inputs =
      prototypes_.index_select(0, samples.targets) + at::randn({count, options_.features}, generator);
  return samples;
}

}  // namespace torchsystem
