// What the training job trains on: a data set of IDX files (the format of MNIST, Fashion-MNIST and
// KMNIST, gzip'd or not), the user's NumPy arrays (numpy.hpp) or CSV files (csv.hpp), or the synthetic
// task (synthetic_data.hpp) for tests.
//
//   "data": {"name": "FashionMNIST", "root": "/usr/share/datasets/fashion-mnist"}
//   "data": {"name": "npz", "path": "data.npz"}             // x_train, y_train, x_test, y_test
//   "data": {"name": "npy", "train": ["x_train.npy", "y_train.npy"], "test": ["x_test.npy", "y_test.npy"]}
//   "data": {"name": "csv", "train": "train.csv", "test": "test.csv", "target": "y"}  // "delimiter": ";"
//   "data": {"name": "FashionMNIST", "normalize": [0.2860, 0.3530]}      // (x - mean) / std after [0, 1]
//   "data": {"name": "FashionMNIST", "flatten": false}                    // [N, 1, 28, 28], for convolutions
//   "data": {"name": "synthetic", "train_samples": 512}                   // the options of
//   synthetic_data.hpp
//
// Every file is checked before any training starts: its magic number, its dimensions, and its size
// against what its header announces; a missing, truncated or corrupt file is a DataError naming it. NumPy
// arrays keep their shape ([N, ...]); features are float32, float64 (made float32) or uint8 (scaled to
// [0, 1] as the IDX sets are). What the labels are follows from the criterion (TaskKind): class indices
// of any integer type, or regression targets of any numeric type (made float32), shaped to the model's
// output (shape_targets). A split that is empty, whose features or targets are not finite or whose labels
// and features differ in number is refused naming the file and the array (or the CSV line), and so is a
// label outside the model's classes (check_labels).
// The samples are held as one contiguous tensor per split, so that batches are slices of it. Each source
// records its provenance (provenance.hpp): the files' sizes and digests.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torchsystem/json.hpp"
#include "torchsystem/training/provenance.hpp"
#include "torchsystem/training/synthetic_data.hpp"

namespace torchsystem {

/// What a criterion makes of the targets: class indices, scored with accuracy, or values the outputs
/// approach (regression), with no accuracy.
enum class TaskKind { classification, regression };

/// CrossEntropyLoss and NLLLoss classify, as does a loss the catalog does not know (a plugin's); MSELoss,
/// L1Loss, SmoothL1Loss, HuberLoss, BCELoss, BCEWithLogitsLoss and KLDivLoss take float targets.
TaskKind task_kind_of(std::string_view criterion);
/// "classification" or "regression", as the history and the epoch lines say it.
const char* to_string(TaskKind kind);

struct DataOptions {
  /// "synthetic"; an IDX data set: "FashionMNIST", "MNIST" or "KMNIST"; the user's NumPy arrays: "npz"
  /// (one archive of x_train, y_train, x_test, y_test) or "npy" (a file per array); or "csv" (a file per
  /// split, the `target` column the labels).
  std::string name = "synthetic";
  /// The IDX files' directory. FashionMNIST defaults to Debian's dataset-fashion-mnist.
  std::filesystem::path root;
  /// "npz": the archive.
  std::filesystem::path path;
  /// "npy": the features' and the labels' files of each split.
  std::pair<std::filesystem::path, std::filesystem::path> train_files;
  std::pair<std::filesystem::path, std::filesystem::path> test_files;
  /// "csv": each split's file, the target column's name and the field separator.
  std::filesystem::path train_csv;
  std::filesystem::path test_csv;
  std::string target;
  char delimiter = ',';
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
  /// Reads the data set's files (checking all of them first) or builds the synthetic task of `seed`, with
  /// the labels `kind` needs. Regression needs the user's data (npz, npy, csv): ArgumentError otherwise.
  DataSource(const DataOptions& options, std::uint64_t seed, TaskKind kind = TaskKind::classification);

  /// The samples of `epoch` (1-based): a data set's training split, or the synthetic task's fresh draw.
  Samples training_samples(std::int64_t epoch) const;
  const Samples& test_samples() const noexcept { return test_; }
  std::int64_t features() const noexcept { return features_; }
  /// The classes the data set defines (10 for the IDX sets), or 0 when the model's output width decides
  /// (NumPy arrays); then check_labels() says whether every label is one of them.
  std::int64_t classes() const noexcept { return classes_; }
  /// Throws DataError naming the file and the array (or the line) of the first label that is not below
  /// `classes`.
  void check_labels(std::int64_t classes) const;
  /// Regression: shapes each sample's targets as the model's output for one sample (`[1]` makes targets
  /// [N] into [N, 1]); DataError naming the targets' file when their counts differ.
  void shape_targets(at::IntArrayRef output_sample_shape);
  TaskKind kind() const noexcept { return kind_; }
  /// What the data are, for the history: files, sizes, digests.
  const DataProvenance& provenance() const noexcept { return provenance_; }
  std::int64_t training_size() const noexcept { return training_size_; }
  /// "FashionMNIST (/usr/share/datasets/fashion-mnist): 60000 training and 10000 test samples".
  std::string description() const;

 private:
  /// Where each split's labels come from, for messages: the file, the array in an archive (or empty), the
  /// CSV line of each row (or none).
  struct LabelOrigin {
    std::string file;
    std::string array;
    std::vector<std::int64_t> lines;
    /// DataError: "line L: <label><reason>", or "[array: ]<label> of sample N<reason>".
    [[noreturn]] void fail(std::int64_t sample, const std::string& label, const std::string& reason) const;
  };

  void read_arrays(const DataOptions& options);
  void read_csv_files(const DataOptions& options);
  void record_provenance(const std::vector<std::filesystem::path>& files);

  DataOptions options_;
  TaskKind kind_;
  DataProvenance provenance_;
  std::optional<PrototypeTask> task_;
  Samples train_;
  Samples test_;
  LabelOrigin train_labels_, test_labels_;
  std::int64_t features_ = 0;
  std::int64_t classes_ = 0;
  std::int64_t training_size_ = 0;
};

}  // namespace torchsystem
