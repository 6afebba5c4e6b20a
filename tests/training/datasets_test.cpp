// IDX data sets (torchsystem/training/datasets.hpp): what the reader gives for files it writes itself, gzip'd
// and plain, every refusal naming the file, the configuration's "data", and Debian's Fashion-MNIST.
#include "torchsystem/training/datasets.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <ATen/Functions.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/json.hpp"

namespace datasets_test {

namespace ts = torchsystem;
namespace fs = std::filesystem;
using test_files::TempDir;

std::string big_endian(std::uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16), static_cast<char>(value >> 8),
          static_cast<char>(value)};
}

/// An IDX images file of `count` images of 2 x 3 pixels: pixel j of image i is 10 * i + j.
std::string images(std::uint32_t count, std::uint32_t magic = 0x803) {
  std::string bytes = big_endian(magic) + big_endian(count) + big_endian(2) + big_endian(3);
  for (std::uint32_t i = 0; i < count; ++i)
    for (std::uint32_t j = 0; j < 6; ++j) bytes += static_cast<char>(10 * i + j);
  return bytes;
}

std::string labels(std::uint32_t count, std::uint32_t magic = 0x801) {
  std::string bytes = big_endian(magic) + big_endian(count);
  for (std::uint32_t i = 0; i < count; ++i) bytes += static_cast<char>(i % 10);
  return bytes;
}

void write_plain(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gzip(const fs::path& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(file);
}

std::string error_of(const fs::path& images_path, const fs::path& labels_path) {
  try {
    ts::read_idx(images_path, labels_path);
  } catch (const ts::DataError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(IdxData, ReadsGzipAndPlainFilesAlike) {
  const TempDir dir;
  write_gzip(dir.path() / "images.gz", images(4));
  write_plain(dir.path() / "labels", labels(4));
  const ts::Samples samples = ts::read_idx(dir.path() / "images.gz", dir.path() / "labels");
  ASSERT_EQ(samples.inputs.sizes(), (c10::IntArrayRef{4, 6}));
  EXPECT_EQ(samples.inputs.scalar_type(), at::kFloat);
  EXPECT_TRUE(samples.inputs.is_contiguous());
  EXPECT_FLOAT_EQ(samples.inputs[3][5].item<float>(), 35.0F / 255.0F);
  EXPECT_FLOAT_EQ(samples.inputs[0][0].item<float>(), 0.0F);
  EXPECT_TRUE(at::equal(samples.targets, at::arange(4, at::kLong)));
}

// Images for a convolutional model: [N, 1, rows, columns], the same pixels.
TEST(IdxData, ImagesStayImagesWhenNotFlattened) {
  const TempDir dir;
  write_plain(dir.path() / "images", images(4));
  write_plain(dir.path() / "labels", labels(4));
  const ts::Samples samples = ts::read_idx(dir.path() / "images", dir.path() / "labels", /*flatten=*/false);
  ASSERT_EQ(samples.inputs.sizes(), (c10::IntArrayRef{4, 1, 2, 3}));
  EXPECT_TRUE(samples.inputs.is_contiguous());
  EXPECT_FLOAT_EQ(samples.inputs[3][0][1][2].item<float>(), 35.0F / 255.0F);

  const ts::DataOptions options = ts::DataOptions::from_json(
      ts::Json{{"name", "MNIST"}, {"root", dir.path().string()}, {"flatten", false}}, "config.data");
  EXPECT_FALSE(options.flatten);
  EXPECT_EQ(options.to_json()["flatten"], false);
  EXPECT_FALSE(ts::DataOptions::from_json(ts::Json{{"name", "MNIST"}, {"root", "x"}}, "config.data")
                   .to_json()
                   .contains("flatten"))
      << "the default is not recorded, so earlier checkpoints' data records stay the same";
  const auto fault = [](const ts::Json& data) {
    try {
      ts::DataOptions::from_json(data, "config.data");
    } catch (const ts::ArgumentError& error) {
      return std::string(error.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(fault({{"name", "MNIST"}, {"root", "x"}, {"flatten", "no"}}),
            "config.data.flatten: expected true or false, got \"no\"");
  EXPECT_EQ(fault({{"name", "synthetic"}, {"flatten", false}}),
            "config.data.flatten: only the IDX data sets take it (the synthetic task is flat)");
}

TEST(IdxData, EveryFaultNamesTheFileAndWhatWasExpected) {
  const TempDir dir;
  const fs::path good_images = dir.path() / "good-images", good_labels = dir.path() / "good-labels";
  write_plain(good_images, images(4));
  write_plain(good_labels, labels(4));
  const auto with_images = [&](const std::string& name, const std::string& bytes) {
    write_plain(dir.path() / name, bytes);
    return error_of(dir.path() / name, good_labels);
  };
  const std::string at = (dir.path() / "x").string();
  EXPECT_EQ(error_of(dir.path() / "missing", good_labels),
            (dir.path() / "missing").string() + ": cannot open: No such file or directory");
  EXPECT_EQ(with_images("x", images(4, 0x801)),
            at + ": its magic number is 0x00000801, not 0x00000803 (IDX images)");
  EXPECT_EQ(with_images("x", images(4).substr(0, 30)),
            at + ": holds 14 bytes of data where its header announces 24 (truncated)");
  EXPECT_EQ(with_images("x", images(4) + "!"),
            at + ": holds 25 bytes of data where its header announces 24 (trailing bytes)");
  EXPECT_EQ(with_images("x", images(4).substr(0, 10)),
            at + ": holds 10 bytes, fewer than the 16-byte header of IDX images");
  EXPECT_EQ(with_images("x", images(5)), good_labels.string() + ": holds 4 labels for the 5 images of x");
  write_plain(dir.path() / "bad-labels", labels(4).replace(9, 1, "\x0c"));
  EXPECT_EQ(error_of(good_images, dir.path() / "bad-labels"),
            (dir.path() / "bad-labels").string() + ": label 12 of sample 1 is not one of the 10 classes");
  // A gzip file cut short, and one whose compressed bytes were changed.
  write_gzip(dir.path() / "whole.gz", images(400));
  std::ifstream in(dir.path() / "whole.gz", std::ios::binary);
  const std::string compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_plain(dir.path() / "cut.gz", compressed.substr(0, compressed.size() / 2));
  EXPECT_NE(error_of(dir.path() / "cut.gz", good_labels).find((dir.path() / "cut.gz").string() + ": "),
            std::string::npos);
  std::string corrupt = compressed;
  for (std::size_t i = 20; i < 60; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x55);
  write_plain(dir.path() / "corrupt.gz", corrupt);
  const std::string corrupt_error = error_of(dir.path() / "corrupt.gz", good_labels);
  EXPECT_TRUE(corrupt_error.starts_with((dir.path() / "corrupt.gz").string() + ": ")) << corrupt_error;
  EXPECT_NE(corrupt_error, "(no error)");
}

TEST(IdxData, ADataSetIsCheckedWholeBeforeTrainingAndMissingFilesAreNamed) {
  const TempDir dir;
  ts::DataOptions options;
  options.name = "MNIST";
  options.root = dir.path();
  write_gzip(dir.path() / "train-images-idx3-ubyte.gz", images(20));
  write_gzip(dir.path() / "train-labels-idx1-ubyte.gz", labels(20));
  write_plain(dir.path() / "t10k-images-idx3-ubyte", images(5));
  try {
    ts::DataSource source(options, 1);
    FAIL() << "a missing file was not refused";
  } catch (const ts::DataError& error) {
    EXPECT_EQ(error.path(), (dir.path() / "t10k-labels-idx1-ubyte.gz").string());
    EXPECT_NE(std::string(error.what()).find("no such file (nor t10k-labels-idx1-ubyte)"), std::string::npos);
  }
  write_plain(dir.path() / "t10k-labels-idx1-ubyte", labels(5));
  options.normalize = std::pair{0.5, 0.25};
  const ts::DataSource source(options, 1);
  EXPECT_EQ(source.features(), 6);
  EXPECT_EQ(source.classes(), 10);
  EXPECT_EQ(source.training_size(), 20);
  EXPECT_EQ(source.test_samples().inputs.size(0), 5);
  EXPECT_EQ(source.description(), "MNIST (" + dir.path().string() + "): 20 training and 5 test samples");
  EXPECT_FLOAT_EQ(source.training_samples(1).inputs[1][2].item<float>(), (12.0F / 255.0F - 0.5F) / 0.25F);
  EXPECT_TRUE(at::equal(source.training_samples(1).inputs, source.training_samples(2).inputs))
      << "a data set's training split is the same every epoch (the job shuffles it)";
}

TEST(IdxData, ConfigurationOfTheData) {
  const auto options = [](const char* text) {
    return ts::DataOptions::from_json(ts::Json::parse(text), "config.data", "/base");
  };
  EXPECT_EQ(options(R"({"name": "FashionMNIST"})").root, ts::fashion_mnist_root);
  EXPECT_EQ(options(R"({"name": "KMNIST", "root": "kmnist"})").root, fs::path("/base/kmnist"));
  EXPECT_EQ(options(R"({"train_samples": 100})").name, "synthetic");
  EXPECT_EQ(options(R"({"train_samples": 100})").synthetic.train_samples, 100);
  const auto error = [&](const char* text) {
    try {
      options(text);
    } catch (const ts::ArgumentError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error(R"({"name": "CIFAR10"})").find("config.data.name"), std::string::npos);
  EXPECT_NE(error(R"({"name": "MNIST"})").find("config.data.root"), std::string::npos);
  EXPECT_NE(error(R"({"name": "MNIST", "root": "x", "train_samples": 3})").find("config.data.train_samples"),
            std::string::npos);
  EXPECT_NE(error(R"({"name": "FashionMNIST", "normalize": [0.5, 0]})").find("config.data.normalize"),
            std::string::npos);
  EXPECT_NE(error(R"({"root": "x"})").find("the synthetic task reads no files"), std::string::npos);
}

// Debian's dataset-fashion-mnist, which the README's commands install: the main job's data.
TEST(IdxData, DebiansFashionMnist) {
  ts::DataOptions options;
  options.name = "FashionMNIST";
  options.root = ts::fashion_mnist_root;
  const ts::DataSource source(options, 0);
  EXPECT_EQ(source.training_size(), 60000);
  EXPECT_EQ(source.test_samples().inputs.size(0), 10000);
  EXPECT_EQ(source.features(), 784);
  EXPECT_EQ(source.test_samples().targets.bincount().min().item<std::int64_t>(), 1000)
      << "1000 test images a class";
  EXPECT_GE(source.test_samples().inputs.min().item<float>(), 0.0F);
  EXPECT_LE(source.test_samples().inputs.max().item<float>(), 1.0F);
}

}  // namespace datasets_test
