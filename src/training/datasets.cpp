// IDX data sets and the job's data source (datasets.hpp). zlib's gz functions read gzip'd and plain
// files alike.
#include "torchsystem/training/datasets.hpp"

#include <zlib.h>

#include <ATen/Functions.h>
#include <c10/util/accumulate.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <vector>

#include "huge_pages.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/training/csv.hpp"
#include "torchsystem/training/numpy.hpp"
#include "torchsystem/value_traits.hpp"
#include "training_support.hpp"

namespace torchsystem {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t images_magic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t labels_magic = 0x00000801;  // unsigned bytes, 1 dimension
constexpr std::uint64_t max_file_size = std::uint64_t{1} << 31;
constexpr std::int64_t idx_classes = 10;

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};

/// The whole content of a gzip'd or plain file, at most 2 GiB.
std::vector<unsigned char> read_all(const fs::path& path) {
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) throw DataError(path.string(), std::string("cannot open: ") + std::strerror(errno));
  std::vector<unsigned char> bytes;
  std::array<unsigned char, 1 << 16> buffer;
  while (true) {
    const int got = gzread(file.get(), buffer.data(), static_cast<unsigned>(buffer.size()));
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file.get(), &code);
      throw DataError(path.string(), std::string("cannot read: ") + (message ? message : "a zlib error") +
                                         " (a truncated or corrupt gzip file?)");
    }
    if (got == 0) break;
    bytes.insert(bytes.end(), buffer.begin(), buffer.begin() + got);
    if (bytes.size() > max_file_size)
      throw DataError(path.string(), "larger than 2 GiB, which no IDX data set is");
  }
  return bytes;
}

std::uint32_t big_endian(const std::vector<unsigned char>& bytes, std::size_t at) {
  return std::uint32_t{bytes[at]} << 24 | std::uint32_t{bytes[at + 1]} << 16 |
         std::uint32_t{bytes[at + 2]} << 8 | std::uint32_t{bytes[at + 3]};
}

/// The dimensions of an IDX file, checked against its magic number and its size.
std::vector<std::int64_t> idx_dimensions(const fs::path& path, const std::vector<unsigned char>& bytes,
                                         std::uint32_t magic, std::size_t count) {
  const std::size_t header = 4 + 4 * count;
  const char* kind = magic == images_magic ? "images" : "labels";
  if (bytes.size() < header) {
    throw DataError(path.string(), "holds " + std::to_string(bytes.size()) + " bytes, fewer than the " +
                                       std::to_string(header) + "-byte header of IDX " + kind);
  }
  if (big_endian(bytes, 0) != magic) {
    char expected[16], got[16];
    std::snprintf(expected, sizeof expected, "0x%08x", magic);
    std::snprintf(got, sizeof got, "0x%08x", big_endian(bytes, 0));
    throw DataError(path.string(),
                    std::string("its magic number is ") + got + ", not " + expected + " (IDX " + kind + ")");
  }
  std::vector<std::int64_t> dimensions;
  std::uint64_t elements = 1;
  for (std::size_t index = 0; index < count; ++index) {
    dimensions.push_back(big_endian(bytes, 4 + 4 * index));
    elements *= static_cast<std::uint64_t>(dimensions.back());
    if (elements > max_file_size)
      throw DataError(path.string(), "its header announces more than 2 GiB of data");
  }
  if (bytes.size() != header + elements) {
    throw DataError(path.string(),
                    "holds " + std::to_string(bytes.size() - header) +
                        " bytes of data where its header announces " + std::to_string(elements) +
                        (bytes.size() < header + elements ? " (truncated)" : " (trailing bytes)"));
  }
  return dimensions;
}

/// `<root>/<stem>.gz`, else `<root>/<stem>`; the .gz path when neither exists, for the message.
fs::path idx_file(const fs::path& root, const std::string& stem) {
  const fs::path gz = root / (stem + ".gz");
  std::error_code ignored;
  if (fs::exists(gz, ignored)) return gz;
  const fs::path plain = root / stem;
  if (fs::exists(plain, ignored)) return plain;
  throw DataError(gz.string(), "no such file (nor " + plain.filename().string() + ")");
}

const char* known_sets[] = {"FashionMNIST", "MNIST", "KMNIST"};

bool is_idx_set(const std::string& name) {
  for (const char* known : known_sets) {
    if (name == known) return true;
  }
  return false;
}

/// Where an array comes from, for messages: a file, and the array's name inside an archive.
struct ArrayOrigin {
  fs::path file;
  std::string array;  ///< empty for an `.npy` file
  [[noreturn]] void fail(const std::string& reason) const {
    throw DataError(file.string(), array.empty() ? reason : "array \"" + array + "\": " + reason);
  }
};

/// `x` as float32, in memory of its own.
at::Tensor as_float(const at::Tensor& x) {
  at::Tensor converted = training_detail::empty_huge(x.sizes(), at::kFloat);
  converted.copy_(x);
  return converted;
}

/// The index of the first sample whose row of `bad` (a bool tensor [samples, ...]) holds a true.
std::int64_t first_sample(const at::Tensor& bad) {
  return bad.reshape({bad.size(0), -1}).any(1).nonzero()[0][0].item<std::int64_t>();
}

/// Features checked and converted: float32 of their own shape.
at::Tensor array_features(at::Tensor x, const ArrayOrigin& origin) {
  if (x.dim() == 0) origin.fail("holds one value; features are an array [samples, ...]");
  if (x.size(0) == 0) origin.fail("is empty: a split needs samples");
  at::Tensor features;
  switch (x.scalar_type()) {
    case at::kFloat:
      features = std::move(x);
      break;
    case at::kDouble:
      features = as_float(x);
      break;
    case at::kByte:
      features = as_float(x).div_(255.0);  // as the IDX sets' pixels
      break;
    default:
      origin.fail(std::string("holds ") + c10::toString(x.scalar_type()) +
                  " features; expected float32, float64 or uint8");
  }
  const at::Tensor bad = at::logical_not(at::isfinite(features));
  if (bad.any().item<bool>())
    origin.fail("sample " + std::to_string(first_sample(bad)) + " has a feature that is NaN or infinite");
  return features;
}

/// Labels checked and converted: int64 class indices >= 0, or float32 regression targets [samples, ...].
at::Tensor array_targets(at::Tensor y, const ArrayOrigin& origin, TaskKind kind) {
  const c10::ScalarType type = y.scalar_type();
  if (kind == TaskKind::regression) {
    if (y.dim() == 0) origin.fail("holds one value; targets are an array [samples, ...]");
    if (type == at::kBool || !(at::isIntegralType(type, false) || at::isFloatingType(type)))
      origin.fail(std::string("holds ") + c10::toString(type) + " targets; regression targets are numbers");
    at::Tensor targets = y.to(at::kFloat);
    const at::Tensor bad = at::logical_not(at::isfinite(targets));
    if (bad.any().item<bool>())
      origin.fail("the target of sample " + std::to_string(first_sample(bad)) + " is NaN or infinite");
    return targets;
  }
  if (y.dim() != 1)
    origin.fail("has shape " + c10::str(y.sizes()) +
                "; labels are one class index a sample, shape [samples]");
  if (!at::isIntegralType(type, /*includeBool=*/false))
    origin.fail(std::string("holds ") + c10::toString(type) +
                " labels; class labels are integers (a regression criterion such as MSELoss takes float "
                "targets)");
  at::Tensor targets = y.to(at::kLong);
  const at::Tensor negative = targets.lt(0);
  if (negative.any().item<bool>()) {
    const std::int64_t sample = first_sample(negative);
    origin.fail("label " + std::to_string(targets[sample].item<std::int64_t>()) + " of sample " +
                std::to_string(sample) + " is negative; labels are class indices");
  }
  return targets;
}

/// One split's features and labels, which must be as many.
Samples array_samples(at::Tensor x, const ArrayOrigin& x_origin, at::Tensor y, const ArrayOrigin& y_origin,
                      TaskKind kind) {
  Samples samples;
  samples.inputs = array_features(std::move(x), x_origin);
  if (y.dim() > 0 && y.size(0) != samples.inputs.size(0))
    y_origin.fail("holds " + std::to_string(y.size(0)) + " labels for the " +
                  std::to_string(samples.inputs.size(0)) + " samples of " +
                  (x_origin.array.empty() ? x_origin.file.filename().string() : x_origin.array));
  samples.targets = array_targets(std::move(y), y_origin, kind);
  return samples;
}

/// A CSV split (its features and target taken, its lines left): its target column as class indices (integers
/// >= 0) or as float32 regression targets.
Samples csv_samples(CsvTable& table, const fs::path& file, TaskKind kind) {
  Samples samples;
  samples.inputs = std::move(table.features);
  if (kind == TaskKind::regression) {
    samples.targets = table.target.to(at::kFloat);
    return samples;
  }
  // Beyond 2^53 a float64 no longer tells integers apart (nor is any model that wide).
  const at::Tensor bad = table.target.lt(0)
                             .logical_or_(table.target.ne(table.target.floor()))
                             .logical_or_(table.target.gt(9007199254740992.0));
  if (bad.any().item<bool>()) {
    const std::int64_t row = bad.nonzero()[0][0].item<std::int64_t>();
    throw DataError(file.string(), "line " + std::to_string(table.lines[static_cast<std::size_t>(row)]) +
                                       ": the label " + python_float_repr(table.target[row].item<double>()) +
                                       " is not a class index (an integer >= 0); a regression criterion "
                                       "such as MSELoss takes float targets");
  }
  samples.targets = table.target.to(at::kLong);
  return samples;
}

/// A split's pair of files: ["x.npy", "y.npy"], relative to `base`.
std::pair<fs::path, fs::path> file_pair(const Json& value, const std::string& path, const fs::path& base) {
  if (!value.is_array() || value.size() != 2)
    throw ArgumentError(path, "expected [features file, labels file], got " + describe_json(value));
  return {training_detail::path_value(value[0], path + "[0]", "the features' .npy file", base),
          training_detail::path_value(value[1], path + "[1]", "the labels' .npy file", base)};
}

}  // namespace

Samples read_idx(const fs::path& images, const fs::path& labels, bool flatten) {
  const std::vector<unsigned char> image_bytes = read_all(images);
  const std::vector<unsigned char> label_bytes = read_all(labels);
  const auto image_dims = idx_dimensions(images, image_bytes, images_magic, 3);
  const auto label_dims = idx_dimensions(labels, label_bytes, labels_magic, 1);
  if (image_dims[0] != label_dims[0]) {
    throw DataError(labels.string(), "holds " + std::to_string(label_dims[0]) + " labels for the " +
                                         std::to_string(image_dims[0]) + " images of " +
                                         images.filename().string());
  }
  for (std::size_t index = 8; index < label_bytes.size(); ++index) {
    if (label_bytes[index] >= idx_classes) {
      throw DataError(labels.string(), "label " + std::to_string(label_bytes[index]) + " of sample " +
                                           std::to_string(index - 8) + " is not one of the 10 classes");
    }
  }
  const std::int64_t count = image_dims[0], features = image_dims[1] * image_dims[2];
  Samples samples;
  // One copy of the bytes, then one conversion: the inputs are a single contiguous tensor.
  const at::Tensor pixels = at::empty({count, features}, at::kByte);
  std::memcpy(pixels.data_ptr(), image_bytes.data() + 16, static_cast<std::size_t>(count * features));
  samples.inputs = as_float(pixels).div_(255.0);
  if (!flatten) samples.inputs = samples.inputs.view({count, 1, image_dims[1], image_dims[2]});
  const at::Tensor targets = at::empty({count}, at::kByte);
  std::memcpy(targets.data_ptr(), label_bytes.data() + 8, static_cast<std::size_t>(count));
  samples.targets = targets.to(at::kLong);
  return samples;
}

DataOptions DataOptions::from_json(const Json& json, const std::string& where, const fs::path& base) {
  if (!json.is_object()) throw ArgumentError(where, "expected an object, got " + describe_json(json));
  DataOptions options;
  // The name first: it decides what "train" and "test" hold.
  if (const auto name = json.find("name"); name != json.end()) {
    const Json& value = *name;
    if (!value.is_string() || (value.get<std::string>() != "synthetic" && value.get<std::string>() != "npz" &&
                               value.get<std::string>() != "npy" && value.get<std::string>() != "csv" &&
                               !is_idx_set(value.get<std::string>())))
      throw ArgumentError(where + ".name",
                          "expected \"FashionMNIST\", \"MNIST\", \"KMNIST\", \"npz\", \"npy\", \"csv\" or "
                          "\"synthetic\", got " +
                              describe_json(value));
    options.name = value.get<std::string>();
  }
  const bool csv = options.name == "csv";
  Json synthetic = Json::object();
  for (const auto& [key, value] : json.items()) {
    const std::string path = where + "." + key;
    if (key == "name") {
      continue;
    } else if (key == "path") {
      options.path = training_detail::path_value(value, path, "the .npz archive", base);
    } else if (key == "train" && csv) {
      options.train_csv = training_detail::path_value(value, path, "the training split's CSV file", base);
    } else if (key == "test" && csv) {
      options.test_csv = training_detail::path_value(value, path, "the test split's CSV file", base);
    } else if (key == "train") {
      options.train_files = file_pair(value, path, base);
    } else if (key == "test") {
      options.test_files = file_pair(value, path, base);
    } else if (key == "target") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty())
        throw ArgumentError(path, "expected the target column's name, got " + describe_json(value));
      options.target = value.get<std::string>();
    } else if (key == "delimiter") {
      const bool one_byte = value.is_string() && value.get_ref<const std::string&>().size() == 1;
      const char separator = one_byte ? value.get_ref<const std::string&>()[0] : '\0';
      if (!one_byte || separator == '"' || separator == '\n' || separator == '\r' || separator == '\0')
        throw ArgumentError(path,
                            "expected one character other than a quote or a line end, such as \";\" or "
                            "\"\\t\", got " +
                                describe_json(value));
      options.delimiter = separator;
    } else if (key == "root") {
      options.root = training_detail::path_value(value, path, "the data set's directory", base);
    } else if (key == "flatten") {
      if (!value.is_boolean())
        throw ArgumentError(path, "expected true or false, got " + describe_json(value));
      options.flatten = value.get<bool>();
    } else if (key == "normalize") {
      if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number() ||
          !(value[1].get<double>() > 0))
        throw ArgumentError(path, "expected [mean, std] with std > 0, got " + describe_json(value));
      options.normalize = std::pair{value[0].get<double>(), value[1].get<double>()};
    } else {
      synthetic[key] = value;  // the synthetic task's options, checked below
    }
  }
  const auto only = [&](std::initializer_list<const char*> keys, const char* kind) {
    for (const auto& [key, value] : json.items()) {
      if (std::find_if(keys.begin(), keys.end(), [&](const char* known) { return key == known; }) ==
          keys.end())
        throw ArgumentError(where + "." + key, std::string("unknown key (") + kind + ")");
    }
  };
  if (options.name == "npz") {
    only({"name", "path", "normalize"}, "an npz data set takes name, path and normalize");
    if (options.path.empty()) throw ArgumentError(where + ".path", "missing (the .npz archive)");
    return options;
  }
  if (csv) {
    only({"name", "train", "test", "target", "delimiter", "normalize"},
         "a csv data set takes name, train, test, target, delimiter and normalize");
    if (options.train_csv.empty())
      throw ArgumentError(where + ".train", "missing (the training split's CSV file)");
    if (options.test_csv.empty()) throw ArgumentError(where + ".test", "missing (the test split's CSV file)");
    if (options.target.empty()) throw ArgumentError(where + ".target", "missing (the target column's name)");
    return options;
  }
  if (options.name == "npy") {
    only({"name", "train", "test", "normalize"}, "an npy data set takes name, train, test and normalize");
    if (options.train_files.first.empty())
      throw ArgumentError(where + ".train", "missing ([features file, labels file] of the training split)");
    if (options.test_files.first.empty())
      throw ArgumentError(where + ".test", "missing ([features file, labels file] of the test split)");
    return options;
  }
  if (options.name != "synthetic") {
    only({"name", "root", "normalize", "flatten"}, "an IDX data set takes name, root, normalize and flatten");
    if (!synthetic.empty()) {
      throw ArgumentError(where + "." + synthetic.begin().key(),
                          "unknown key (an IDX data set takes name, root and normalize)");
    }
    if (options.root.empty()) {
      if (options.name != "FashionMNIST")
        throw ArgumentError(where + ".root", "missing (the directory of " + options.name + "'s IDX files)");
      options.root = fashion_mnist_root;
    }
    return options;
  }
  for (const char* key : {"root", "path", "train", "test", "target", "delimiter"})
    if (json.contains(key)) throw ArgumentError(where + "." + key, "the synthetic task reads no files");
  if (json.contains("flatten"))
    throw ArgumentError(where + ".flatten", "only the IDX data sets take it (the synthetic task is flat)");
  options.synthetic = SyntheticDataOptions::from_json(synthetic, where);
  return options;
}

Json DataOptions::to_json() const {
  Json json = name == "synthetic" ? synthetic.to_json() : Json::object();
  json["name"] = name;
  if (name == "npz") {
    json["path"] = path.string();
  } else if (name == "npy") {
    json["train"] = {train_files.first.string(), train_files.second.string()};
    json["test"] = {test_files.first.string(), test_files.second.string()};
  } else if (name == "csv") {
    json["train"] = train_csv.string();
    json["test"] = test_csv.string();
    json["target"] = target;
    if (delimiter != ',') json["delimiter"] = std::string(1, delimiter);
  } else if (name != "synthetic") {
    json["root"] = root.string();
    if (!flatten) json["flatten"] = false;
  }
  if (normalize) json["normalize"] = {normalize->first, normalize->second};
  return json;
}

TaskKind task_kind_of(std::string_view criterion) {
  for (const char* regression :
       {"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"}) {
    if (criterion == regression) return TaskKind::regression;
  }
  return TaskKind::classification;
}

const char* to_string(TaskKind kind) {
  return kind == TaskKind::regression ? "regression" : "classification";
}

void DataSource::LabelOrigin::fail(std::int64_t sample, const std::string& label,
                                   const std::string& reason) const {
  if (!lines.empty()) {
    throw DataError(
        file, "line " + std::to_string(lines[static_cast<std::size_t>(sample)]) + ": " + label + reason);
  }
  ArrayOrigin{file, array}.fail(label + " of sample " + std::to_string(sample) + reason);
}

DataSource::DataSource(const DataOptions& options, std::uint64_t seed, TaskKind kind)
    : options_(options), kind_(kind) {
  const bool own_data = options.name == "npz" || options.name == "npy" || options.name == "csv";
  if (kind == TaskKind::regression && !own_data)
    throw ArgumentError("config.criterion",
                        "takes float targets (regression), and " + options.name +
                            " holds class labels: train it with CrossEntropyLoss or NLLLoss, or give your "
                            "own data (\"npz\", \"npy\" or \"csv\")");
  if (options.name == "synthetic") {
    task_.emplace(options.synthetic, seed);
    test_ = task_->test_samples();
    features_ = options.synthetic.features;
    classes_ = options.synthetic.classes;
    training_size_ = options.synthetic.train_samples;
    provenance_ = DataProvenance::of(options.name, {}, training_size_, test_.inputs.size(0),
                                     {{"options", options.synthetic.to_json()}, {"seed", seed}});
  } else if (options.name == "npz" || options.name == "npy") {
    read_arrays(options);
  } else if (options.name == "csv") {
    read_csv_files(options);
  } else {
    // Every file is found and checked before any is converted.
    const fs::path train_images = idx_file(options.root, "train-images-idx3-ubyte");
    const fs::path train_labels = idx_file(options.root, "train-labels-idx1-ubyte");
    const fs::path test_images = idx_file(options.root, "t10k-images-idx3-ubyte");
    const fs::path test_labels = idx_file(options.root, "t10k-labels-idx1-ubyte");
    train_ = read_idx(train_images, train_labels, options.flatten);
    test_ = read_idx(test_images, test_labels, options.flatten);
    const std::int64_t train_pixels = c10::multiply_integers(train_.inputs.sizes().slice(1));
    const std::int64_t test_pixels = c10::multiply_integers(test_.inputs.sizes().slice(1));
    if (train_.inputs.sizes().slice(1) != test_.inputs.sizes().slice(1)) {
      throw DataError(test_images.string(), "has images of " + std::to_string(test_pixels) +
                                                " pixels, the training images " +
                                                std::to_string(train_pixels));
    }
    features_ = train_pixels;
    classes_ = idx_classes;
    training_size_ = train_.inputs.size(0);
    record_provenance({train_images, train_labels, test_images, test_labels});
  }
  if (options.normalize) {
    const auto [mean, deviation] = *options.normalize;
    if (task_) {
      test_.inputs = test_.inputs.sub(mean).div_(deviation);  // the task keeps its own
    } else {
      // In place: the files' inputs were read into memory of their own.
      test_.inputs.sub_(mean).div_(deviation);
      train_.inputs.sub_(mean).div_(deviation);
    }
  }
}

void DataSource::record_provenance(const std::vector<fs::path>& files) {
  Json parameters;
  if (options_.normalize) parameters["normalize"] = {options_.normalize->first, options_.normalize->second};
  provenance_ = DataProvenance::of(options_.name, files, training_size_, test_.inputs.size(0), parameters);
}

void DataSource::read_arrays(const DataOptions& options) {
  ArrayOrigin origins[4];
  at::Tensor arrays[4];
  if (options.name == "npz") {
    const char* names[] = {"x_train", "y_train", "x_test", "y_test"};
    auto read = read_npz(options.path, {names[0], names[1], names[2], names[3]});
    for (int index = 0; index < 4; ++index) {
      origins[index] = {options.path, names[index]};
      arrays[index] = std::move(read.at(names[index]));
    }
  } else {
    const fs::path files[] = {options.train_files.first, options.train_files.second, options.test_files.first,
                              options.test_files.second};
    for (int index = 0; index < 4; ++index) {
      origins[index] = {files[index], ""};
      arrays[index] = read_npy(files[index]);
    }
  }
  train_ = array_samples(std::move(arrays[0]), origins[0], std::move(arrays[1]), origins[1], kind_);
  test_ = array_samples(std::move(arrays[2]), origins[2], std::move(arrays[3]), origins[3], kind_);
  if (train_.inputs.sizes().slice(1) != test_.inputs.sizes().slice(1))
    origins[2].fail("has samples of shape " + c10::str(test_.inputs.sizes().slice(1)) +
                    ", the training split's " + c10::str(train_.inputs.sizes().slice(1)));
  if (train_.targets.sizes().slice(1) != test_.targets.sizes().slice(1))
    origins[3].fail("has targets of shape " + c10::str(test_.targets.sizes().slice(1)) +
                    " a sample, the training split's " + c10::str(train_.targets.sizes().slice(1)));
  train_labels_ = {origins[1].file.string(), origins[1].array, {}};
  test_labels_ = {origins[3].file.string(), origins[3].array, {}};
  features_ = c10::multiply_integers(train_.inputs.sizes().slice(1));
  classes_ = 0;  // the model's output width decides
  training_size_ = train_.inputs.size(0);
  if (options.name == "npz") {
    record_provenance({options.path});
  } else {
    record_provenance({options.train_files.first, options.train_files.second, options.test_files.first,
                       options.test_files.second});
  }
}

void DataSource::read_csv_files(const DataOptions& options) {
  const CsvOptions csv{options.target, options.delimiter};
  CsvTable train = read_csv(options.train_csv, csv);
  CsvTable test = read_csv(options.test_csv, csv);
  if (test.feature_columns != train.feature_columns) {
    std::string names;
    for (const auto& name : train.feature_columns) names += (names.empty() ? "" : ", ") + name;
    throw DataError(options.test_csv.string(),
                    "its feature columns are not the training file's (" + names + ")");
  }
  train_ = csv_samples(train, options.train_csv, kind_);
  test_ = csv_samples(test, options.test_csv, kind_);
  train_labels_ = {options.train_csv.string(), "", std::move(train.lines)};
  test_labels_ = {options.test_csv.string(), "", std::move(test.lines)};
  features_ = train_.inputs.size(1);
  classes_ = 0;  // the model's output width decides
  training_size_ = train_.inputs.size(0);
  record_provenance({options.train_csv, options.test_csv});
}

void DataSource::check_labels(std::int64_t classes) const {
  for (const auto& [samples, origin] :
       {std::pair{&train_, &train_labels_}, std::pair{&test_, &test_labels_}}) {
    if (!samples->targets.defined() || samples->targets.numel() == 0) continue;
    const at::Tensor outside = samples->targets.ge(classes);
    if (!outside.any().item<bool>()) continue;
    const std::int64_t sample = outside.nonzero()[0][0].item<std::int64_t>();
    origin->fail(sample, "label " + std::to_string(samples->targets[sample].item<std::int64_t>()),
                 " is not one of the model's " + std::to_string(classes) + " classes (its output width)");
  }
}

void DataSource::shape_targets(at::IntArrayRef output_sample_shape) {
  const std::int64_t wanted = c10::multiply_integers(output_sample_shape);
  for (const auto& [samples, origin] :
       {std::pair{&train_, &train_labels_}, std::pair{&test_, &test_labels_}}) {
    const at::Tensor& targets = samples->targets;
    const std::int64_t given = c10::multiply_integers(targets.sizes().slice(1));
    if (given != wanted) {
      const ArrayOrigin where{origin->file, origin->array};
      where.fail("holds " + std::to_string(given) + " target value(s) a sample (shape " +
                 c10::str(targets.sizes()) + "); the model gives " + std::to_string(wanted) +
                 " (outputs of shape " + c10::str(output_sample_shape) + " a sample)");
    }
    std::vector<std::int64_t> shape{targets.size(0)};
    shape.insert(shape.end(), output_sample_shape.begin(), output_sample_shape.end());
    samples->targets = targets.reshape(shape);
  }
}

Samples DataSource::training_samples(std::int64_t epoch) const {
  if (!task_) return train_;
  Samples samples = task_->training_samples(epoch);
  if (options_.normalize)
    samples.inputs = samples.inputs.sub(options_.normalize->first).div_(options_.normalize->second);
  return samples;
}

std::string DataSource::description() const {
  std::string text = options_.name;
  if (options_.name == "npz") {
    text += " (" + options_.path.string() + ")";
  } else if (options_.name == "npy") {
    text += " (" + options_.train_files.first.string() + ", ...)";
  } else if (options_.name == "csv") {
    text += " (" + options_.train_csv.string() + ", " + options_.test_csv.string() + ")";
  } else if (!task_) {
    text += " (" + options_.root.string() + ")";
  }
  return text + ": " + std::to_string(training_size_) + " training and " +
         std::to_string(test_.inputs.size(0)) + " test samples";
}

}  // namespace torchsystem
