// The NumPy reader against files NumPy itself writes (tests/training/make_numpy_files.py, run with Debian's
// python3-numpy): every dtype, both byte orders, Fortran order, the three format versions, stored and
// deflated archives; and every refusal, whose message names the file (and the array).
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "temp_dir.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/registries.hpp"
#include "torchsystem/training/datasets.hpp"
#include "torchsystem/training/numpy.hpp"
#include "torchsystem/training/training_job.hpp"

namespace numpy_test {

namespace ts = torchsystem;
namespace fs = std::filesystem;

/// The files and their manifest, written once for the whole test program.
const fs::path& numpy_files() {
  static const test_files::TempDir* dir = [] {
    auto* made = new test_files::TempDir;
    const std::string command =
        std::string(TORCHSYSTEM_PYTHON) + " " + TORCHSYSTEM_NUMPY_WRITER + " " + made->path().string();
    if (std::system(command.c_str()) != 0) ADD_FAILURE() << "cannot write the files: " << command;
    return made;
  }();
  return dir->path();
}

ts::Json manifest() {
  std::ifstream in(numpy_files() / "manifest.json");
  return ts::parse_json(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

at::Tensor read(const ts::Json& entry) {
  const fs::path path = numpy_files() / entry["file"].get<std::string>();
  if (entry["member"].is_null()) return ts::read_npy(path);
  const std::string member = entry["member"].get<std::string>();
  return ts::read_npz(path, {member}).at(member);
}

TEST(Numpy, ReadsWhatNumpyWritesValueForValue) {
  int read_files = 0;
  for (const ts::Json& entry : manifest()) {
    if (entry.contains("error")) continue;
    const std::string what = entry["file"].get<std::string>() + " " + entry["member"].dump();
    SCOPED_TRACE(what);
    const at::Tensor tensor = read(entry);
    EXPECT_EQ(std::string(c10::toString(tensor.scalar_type())), entry["dtype"].get<std::string>());
    EXPECT_EQ(std::vector<std::int64_t>(tensor.sizes().begin(), tensor.sizes().end()),
              entry["shape"].get<std::vector<std::int64_t>>());
    EXPECT_TRUE(tensor.is_contiguous());
    const at::Tensor flat = tensor.to(at::kDouble).reshape({-1});
    const auto expected = entry["values"].get<std::vector<double>>();
    ASSERT_EQ(flat.numel(), static_cast<std::int64_t>(expected.size()));
    for (std::size_t index = 0; index < expected.size(); ++index)
      ASSERT_EQ(flat[static_cast<std::int64_t>(index)].item<double>(), expected[index])
          << "element " << index;
    ++read_files;
  }
  EXPECT_EQ(read_files, 30) << "every readable case of the manifest";
}

TEST(Numpy, RefusesWhatATensorCannotHoldNamingTheFileAndTheArray) {
  int refused = 0;
  for (const ts::Json& entry : manifest()) {
    if (!entry.contains("error")) continue;
    const std::string file = entry["file"].get<std::string>();
    SCOPED_TRACE(file);
    try {
      read(entry);
      ADD_FAILURE() << "read";
    } catch (const ts::DataError& error) {
      const std::string message = error.what();
      EXPECT_EQ(error.path(), (numpy_files() / file).string());
      EXPECT_TRUE(message.starts_with((numpy_files() / file).string() + ": ")) << message;
      EXPECT_NE(message.find(entry["error"].get<std::string>()), std::string::npos) << message;
    }
    ++refused;
  }
  EXPECT_EQ(refused, 16) << "every refusal of the manifest";
}

TEST(Numpy, AnArchiveGivesTheArraysAskedForOnly) {
  const auto arrays = ts::read_npz(numpy_files() / "deflated.npz", {"x_train", "y_train"});
  ASSERT_EQ(arrays.size(), 2U);
  EXPECT_EQ(arrays.at("x_train").sizes(), (std::vector<std::int64_t>{5, 1, 4, 4}));
  EXPECT_EQ(arrays.at("y_train").sizes(), (std::vector<std::int64_t>{5}));
  EXPECT_THROW(ts::read_npz(numpy_files() / "f4.npy", {"x_train"}), ts::DataError) << "not an archive";
}

// ---- training on the user's arrays ----------------------------------------------------------------------

ts::Json blobs_config(const fs::path& store, const ts::Json& data) {
  return {{"model", {{"name", "Linear"}, {"arguments", {{"in_features", 8}, {"out_features", 3}}}}},
          {"criterion", {{"name", "CrossEntropyLoss"}}},
          {"optimizer", {{"name", "Adam"}, {"arguments", {{"lr", 0.05}}}}},
          {"epochs", 3},
          {"batch_size", 32},
          {"seed", 1},
          {"store", store.string()},
          {"data", data}};
}

ts::TrainingReport train(const ts::Json& config) {
  return ts::train(ts::TrainingConfig::from_json(config), ts::Registries());
}

TEST(NumpyData, AnNpzArchiveOfFloat64FeaturesAndInt32LabelsTrains) {
  const test_files::TempDir dir;
  const auto report =
      train(blobs_config(dir.path(), {{"name", "npz"}, {"path", (numpy_files() / "blobs.npz").string()}}));
  ASSERT_EQ(report.history.size(), 3U);
  EXPECT_GE(report.history.back().test_accuracy, 0.95);
  EXPECT_TRUE(fs::exists(report.checkpoint));
}

TEST(NumpyData, NpyPairsOfUint8FeaturesTrainScaledAsImages) {
  const test_files::TempDir dir;
  const auto file = [](const char* name) {
    return (numpy_files() / (std::string("blobs_") + name + ".npy")).string();
  };
  const auto report = train(blobs_config(dir.path(), {{"name", "npy"},
                                                      {"train", {file("x_train"), file("y_train")}},
                                                      {"test", {file("x_test"), file("y_test")}}}));
  ASSERT_EQ(report.history.size(), 3U);
  EXPECT_GE(report.history.back().test_accuracy, 0.95);
}

// Each fault of a user's data stops the job before its first epoch, naming the file and the array, and
// nothing is written to the store.
TEST(NumpyData, BadDataFailsBeforeTheFirstEpochNamingTheFileAndTheArray) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"lengths", "array \"y_train\": holds 599 labels for the 600 samples of x_train"},
      {"label",
       "array \"y_test\": label 3 of sample 17 is not one of the model's 3 classes (its output width)"},
      {"negative", "array \"y_train\": label -1 of sample 5 is negative; labels are class indices"},
      {"nan", "array \"x_train\": sample 9 has a feature that is NaN or infinite"},
      {"empty", "array \"x_test\": is empty: a split needs samples"},
      {"float_labels", "array \"y_train\": holds Float labels; class labels are integers"},
      {"strings", "array \"x_test\": its dtype '<U8' is a string"},
      {"missing", "has no array \"y_test\" (its arrays: x_train, y_train, x_test)"},
  };
  for (const auto& [fault, expected] : cases) {
    SCOPED_TRACE(fault);
    const test_files::TempDir dir;
    const fs::path archive = numpy_files() / ("fault_" + fault + ".npz");
    try {
      train(blobs_config(dir.path() / "store", {{"name", "npz"}, {"path", archive.string()}}));
      ADD_FAILURE() << "trained";
    } catch (const ts::DataError& error) {
      const std::string message = error.what();
      EXPECT_TRUE(message.starts_with(archive.string() + ": ")) << message;
      EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
    EXPECT_FALSE(fs::exists(dir.path() / "store")) << "nothing is written";
  }
}

TEST(NumpyData, TheConfigurationNamesItsKeys) {
  const auto fault = [](const ts::Json& data) {
    try {
      ts::DataOptions::from_json(data, "config.data", "/configs");
    } catch (const ts::ArgumentError& error) {
      return std::string(error.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(fault({{"name", "npz"}}), "config.data.path: missing (the .npz archive)");
  EXPECT_EQ(fault({{"name", "npz"}, {"path", "a.npz"}, {"root", "x"}}),
            "config.data.root: unknown key (an npz data set takes name, path and normalize)");
  EXPECT_EQ(fault({{"name", "npy"}, {"train", {"x.npy", "y.npy"}}}),
            "config.data.test: missing ([features file, labels file] of the test split)");
  EXPECT_EQ(fault({{"name", "npy"}, {"train", {"x.npy"}}, {"test", {"x.npy", "y.npy"}}}),
            "config.data.train: expected [features file, labels file], got [\"x.npy\"]");
  const ts::DataOptions options =
      ts::DataOptions::from_json({{"name", "npz"}, {"path", "data/a.npz"}}, "config.data", "/configs");
  EXPECT_EQ(options.path, fs::path("/configs/data/a.npz")) << "relative to the configuration's directory";
  EXPECT_EQ(options.to_json(), ts::parse_json(R"({"name": "npz", "path": "/configs/data/a.npz"})"));
}

}  // namespace numpy_test
