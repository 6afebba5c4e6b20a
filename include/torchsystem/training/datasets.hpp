// What the training job trains on: a data set of IDX files (the format of MNIST, Fashion-MNIST and
// KMNIST, gzip'd or not), the user's NumPy arrays (numpy.hpp), or the synthetic task (synthetic_data.hpp)
// for tests.
//
//   "data": {"name": "FashionMNIST", "root": "/usr/share/datasets/fashion-mnist"}
//   "data": {"name": "npz", "path": "data.npz"}             // x_train, y_train, x_test, y_test
//   "data": {"name": "npy", "train": ["x_train.npy", "y_train.npy"], "test": ["x_test.npy", "y_test.npy"]}
//   "data": {"name": "FashionMNIST", "normalize": [0.2860, 0.3530]}      // (x - mean) / std after [0, 1]
//   "data": {"name": "FashionMNIST", "flatten": false}                    // [N, 1, 28, 28], for convolutions
//   "data": {"name": "synthetic", "train_samples": 512}                   // the options of
//   synthetic_data.hpp
//
// Every file is checked before any training starts: its magic number, its dimensions, and its size
// against what its header announces; a missing, truncated or corrupt file is a DataError naming it. NumPy
// arrays keep their shape ([N, ...]); features are float32, float64 (made float32) or uint8 (scaled to
// [0, 1] as the IDX sets are), labels are class indices of any integer type; a split that is empty, whose
// features are not finite or whose labels and features differ in number is refused naming the file and
// the array, and so is a label outside the model's classes (check_labels).
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
  /// "synthetic"; an IDX data set: "FashionMNIST", "MNIST" or "KMNIST"; or the user's NumPy arrays:
  /// "npz" (one archive of x_train, y_train, x_test, y_test) or "npy" (a file per array).
  std::string name = "synthetic";
  /// The IDX files' directory. FashionMNIST defaults to Debian's dataset-fashion-mnist.
  std::filesystem::path root;
  /// "npz": the archive.
  std::filesystem::path path;
  /// "npy": the features' and the labels' files of each split.
  std::pair<std::filesystem::path, std::filesystem::path> train_files;
  std::pair<std::filesystem::path, std::filesystem::path> test_files;
  /// (mean, std) applied after pixels are scaled to [0, 1]; none by default.
  std::optional<std::pair<double, double>> normalize;
  /// IDX sets: images as flat rows [N, rows * columns] (the default, for an MLP), or, false, as images
  /// [N, 1, rows, columns] for a convolutional model.
  bool flatten = true;
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
/// as float32, flattened to [count, rows * columns] or, with `flatten` false, [count, 1, rows, columns];
/// and labels (magic 0x00000801, [count]) as int64. Either file may be gzip'd. Throws DataError naming the
/// file.
Samples read_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                 bool flatten = true);

/// The training and test samples of a configuration, read or drawn once.
class DataSource {
 public:
  /// Reads the data set's files (checking all of them first) or builds the synthetic task of `seed`.
  DataSource(const DataOptions& options, std::uint64_t seed);

  /// The samples of `epoch` (1-based): a data set's training split, or the synthetic task's fresh draw.
  Samples training_samples(std::int64_t epoch) const;
  const Samples& test_samples() const noexcept { return test_; }
  std::int64_t features() const noexcept { return features_; }
  /// The classes the data set defines (10 for the IDX sets), or 0 when the model's output width decides
  /// (NumPy arrays); then check_labels() says whether every label is one of them.
  std::int64_t classes() const noexcept { return classes_; }
  /// Throws DataError naming the file and the array of the first label that is not below `classes`.
  void check_labels(std::int64_t classes) const;
  std::int64_t training_size() const noexcept { return training_size_; }
  /// "FashionMNIST (/usr/share/datasets/fashion-mnist): 60000 training and 10000 test samples".
  std::string description() const;

 private:
  void read_arrays(const DataOptions& options);

  DataOptions options_;
  std::optional<PrototypeTask> task_;
  Samples train_;
  Samples test_;
  /// Where each split's labels come from, for messages: `<file>` and `array "y_train": ` or empty.
  std::pair<std::string, std::string> train_labels_, test_labels_;
  std::int64_t features_ = 0;
  std::int64_t classes_ = 0;
  std::int64_t training_size_ = 0;
};

}  // namespace torchsystem
