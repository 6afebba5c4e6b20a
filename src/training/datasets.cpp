// IDX data sets and the job's data source (datasets.hpp). zlib's gz functions read gzip'd and plain
// files alike.
#include "torchsystem/training/datasets.hpp"

#include <zlib.h>

#include <ATen/Functions.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "torchsystem/error.hpp"
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

}  // namespace

Samples read_idx(const fs::path& images, const fs::path& labels) {
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
  samples.inputs = pixels.to(at::kFloat).div_(255.0);
  const at::Tensor targets = at::empty({count}, at::kByte);
  std::memcpy(targets.data_ptr(), label_bytes.data() + 8, static_cast<std::size_t>(count));
  samples.targets = targets.to(at::kLong);
  return samples;
}

DataOptions DataOptions::from_json(const Json& json, const std::string& where, const fs::path& base) {
  if (!json.is_object()) throw ArgumentError(where, "expected an object, got " + describe_json(json));
  DataOptions options;
  Json synthetic = Json::object();
  for (const auto& [key, value] : json.items()) {
    const std::string path = where + "." + key;
    if (key == "name") {
      if (!value.is_string() ||
          (value.get<std::string>() != "synthetic" && !is_idx_set(value.get<std::string>())))
        throw ArgumentError(path, "expected \"FashionMNIST\", \"MNIST\", \"KMNIST\" or \"synthetic\", got " +
                                      describe_json(value));
      options.name = value.get<std::string>();
    } else if (key == "root") {
      options.root = training_detail::path_value(value, path, "the data set's directory", base);
    } else if (key == "normalize") {
      if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number() ||
          !(value[1].get<double>() > 0))
        throw ArgumentError(path, "expected [mean, std] with std > 0, got " + describe_json(value));
      options.normalize = std::pair{value[0].get<double>(), value[1].get<double>()};
    } else {
      synthetic[key] = value;  // the synthetic task's options, checked below
    }
  }
  if (options.name != "synthetic") {
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
  if (!options.root.empty()) throw ArgumentError(where + ".root", "the synthetic task reads no files");
  options.synthetic = SyntheticDataOptions::from_json(synthetic, where);
  return options;
}

Json DataOptions::to_json() const {
  Json json = name == "synthetic" ? synthetic.to_json() : Json::object();
  json["name"] = name;
  if (name != "synthetic") json["root"] = root.string();
  if (normalize) json["normalize"] = {normalize->first, normalize->second};
  return json;
}

DataSource::DataSource(const DataOptions& options, std::uint64_t seed) : options_(options) {
  if (options.name == "synthetic") {
    task_.emplace(options.synthetic, seed);
    test_ = task_->test_samples();
    features_ = options.synthetic.features;
    classes_ = options.synthetic.classes;
    training_size_ = options.synthetic.train_samples;
  } else {
    // Every file is found and checked before any is converted.
    const fs::path train_images = idx_file(options.root, "train-images-idx3-ubyte");
    const fs::path train_labels = idx_file(options.root, "train-labels-idx1-ubyte");
    const fs::path test_images = idx_file(options.root, "t10k-images-idx3-ubyte");
    const fs::path test_labels = idx_file(options.root, "t10k-labels-idx1-ubyte");
    train_ = read_idx(train_images, train_labels);
    test_ = read_idx(test_images, test_labels);
    if (train_.inputs.size(1) != test_.inputs.size(1)) {
      throw DataError(test_images.string(), "has images of " + std::to_string(test_.inputs.size(1)) +
                                                " pixels, the training images " +
                                                std::to_string(train_.inputs.size(1)));
    }
    features_ = train_.inputs.size(1);
    classes_ = idx_classes;
    training_size_ = train_.inputs.size(0);
  }
  if (options.normalize) {
    const auto [mean, deviation] = *options.normalize;
    test_.inputs = test_.inputs.sub(mean).div_(deviation);
    if (train_.inputs.defined()) train_.inputs = train_.inputs.sub(mean).div_(deviation);
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
  if (!task_) text += " (" + options_.root.string() + ")";
  return text + ": " + std::to_string(training_size_) + " training and " +
         std::to_string(test_.inputs.size(0)) + " test samples";
}

}  // namespace torchsystem
