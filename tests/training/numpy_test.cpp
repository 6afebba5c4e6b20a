// The user's data against files NumPy and Python's csv module write (tests/training/make_numpy_files.py,
// run with Debian's python3-numpy): every dtype, both byte orders, Fortran order, the three format
// versions, stored and deflated archives; CSV with quotes, CRLF and blank lines; and every refusal, whose
// message names the file (and the array, or the CSV line). Then training on them: classification and
// regression, each epoch's provenance against Python's hashlib, a resume on other data, and Fashion-MNIST
// as a user's .npz.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "job_support.hpp"
#include "temp_dir.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/registries.hpp"
#include "torchsystem/training/csv.hpp"
#include "torchsystem/training/datasets.hpp"
#include "torchsystem/training/numpy.hpp"
#include "torchsystem/training/training_job.hpp"
#include "train_output.hpp"

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

ts::Json read_json(const fs::path& path) {
  std::ifstream in(path);
  return ts::parse_json(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

ts::Json manifest() {
  return read_json(numpy_files() / "manifest.json");
}

std::string file(const std::string& name) {
  return (numpy_files() / name).string();
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

/// A Linear model of `in` features and `out` outputs trained with `criterion` on `data`.
ts::Json linear_config(const fs::path& store, const ts::Json& data, int in, int out, const char* criterion,
                       int epochs, int seed) {
  return {{"model", {{"name", "Linear"}, {"arguments", {{"in_features", in}, {"out_features", out}}}}},
          {"criterion", {{"name", criterion}}},
          {"optimizer", {{"name", "Adam"}, {"arguments", {{"lr", 0.05}}}}},
          {"epochs", epochs},
          {"batch_size", 32},
          {"seed", seed},
          {"store", store.string()},
          {"data", data}};
}

/// Three classes in 8 features.
ts::Json blobs_config(const fs::path& store, const ts::Json& data) {
  return linear_config(store, data, 8, 3, "CrossEntropyLoss", 3, 1);
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

/// The message of the ArgumentError a "data" object gives, or "(accepted)".
std::string fault(const ts::Json& data) {
  try {
    ts::DataOptions::from_json(data, "config.data", "/configs");
  } catch (const ts::ArgumentError& error) {
    return std::string(error.what());
  }
  return std::string("(accepted)");
}

TEST(NumpyData, TheConfigurationNamesItsKeys) {
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

// ---- CSV --------------------------------------------------------------------------------------------------

ts::Json csv_manifest() {
  return read_json(numpy_files() / "csv_manifest.json");
}

TEST(Csv, ReadsQuotesSpacesSignsExponentsAndBlankLinesCellForCell) {
  const ts::Json cases = csv_manifest()["cases"];
  const ts::Json& quirks = cases[0];
  const ts::CsvTable table = ts::read_csv(file("quirks.csv"), {quirks["target"].get<std::string>()});
  const auto expected = quirks["features"].get<std::vector<std::vector<double>>>();
  ASSERT_EQ(table.features.sizes(), (std::vector<std::int64_t>{3, 2}));
  EXPECT_EQ(table.features.scalar_type(), at::kFloat);
  for (std::int64_t row = 0; row < 3; ++row)
    for (std::int64_t column = 0; column < 2; ++column)
      EXPECT_EQ(table.features[row][column].item<float>(),
                static_cast<float>(expected[static_cast<std::size_t>(row)][static_cast<std::size_t>(column)]))
          << row << ", " << column;
  EXPECT_EQ(std::vector<double>(table.target.data_ptr<double>(), table.target.data_ptr<double>() + 3),
            quirks["target_values"].get<std::vector<double>>());
  EXPECT_EQ(table.lines, quirks["lines"].get<std::vector<std::int64_t>>())
      << "a quoted line end, blank lines";
  EXPECT_EQ(table.feature_columns, quirks["columns"].get<std::vector<std::string>>());
}

TEST(Csv, ReadsPythonsCsvWriterWithCrlfAndEveryFieldQuoted) {
  const ts::CsvTable table = ts::read_csv(file("blobs_train.csv"), {"label", ';'});
  EXPECT_EQ(table.features.sizes(), (std::vector<std::int64_t>{600, 8}));
  EXPECT_EQ(table.lines.back(), 601);
  const ts::CsvTable crlf = ts::read_csv(file("regression_train.csv"), {"y"});
  EXPECT_EQ(crlf.features.sizes(), (std::vector<std::int64_t>{2000, 3}));
  EXPECT_EQ(crlf.lines[1], 3) << "CRLF ends one line, not two";
}

TEST(Csv, EveryBadCellIsRefusedNamingTheFileTheLineAndTheColumn) {
  int refused = 0;
  const ts::Json cases = csv_manifest()["cases"];
  for (const ts::Json& entry : cases) {
    if (!entry.contains("error") || entry["file"] == "half_label.csv" || entry["file"] == "big_label.csv")
      continue;
    const std::string path = file(entry["file"].get<std::string>());
    SCOPED_TRACE(path);
    try {
      ts::read_csv(path, {entry["target"].get<std::string>(), entry["delimiter"].get<std::string>()[0]});
      ADD_FAILURE() << "read";
    } catch (const ts::DataError& error) {
      const std::string message = error.what();
      EXPECT_TRUE(message.starts_with(path + ": ")) << message;
      EXPECT_NE(message.find(entry["error"].get<std::string>()), std::string::npos) << message;
    }
    ++refused;
  }
  EXPECT_EQ(refused, 14) << "every refusal of the manifest";
  EXPECT_THROW(ts::read_csv(file("no_such.csv"), {"y"}), ts::DataError);
}

// ---- classification and regression on CSV files and arrays ---------------------------------------------

/// y = a.x + b + noise: Linear(3, 1) under MSELoss.
ts::Json regression_config(const fs::path& store, const ts::Json& data) {
  return linear_config(store, data, 3, 1, "MSELoss", 5, 3);
}

const ts::Json regression_csv = {{"name", "csv"},
                                 {"train", file("regression_train.csv")},
                                 {"test", file("regression_test.csv")},
                                 {"target", "y"}};

TEST(UserData, ACsvRegressionReachesTheNoiseAndRecordsNoAccuracy) {
  const test_files::TempDir dir;
  std::ostringstream out;
  ts::cli::TrainOutput rendered(out, false);
  const auto report = ts::train(ts::TrainingConfig::from_json(regression_config(dir.path(), regression_csv)),
                                ts::Registries(), &rendered);
  ASSERT_EQ(report.history.size(), 5U);
  EXPECT_LT(report.history.back().test_loss, 0.05) << "the noise's variance is 0.01";
  EXPECT_EQ(report.history.back().task, "regression");
  EXPECT_NE(out.str().find(": 2000 training and 500 test samples, regression; "), std::string::npos)
      << out.str();
  EXPECT_EQ(out.str().find("accuracy"), std::string::npos) << out.str();

  const auto saved = ts::CheckpointStore(dir.path()).find("Linear", report.identity.substr(7));
  ASSERT_TRUE(saved);
  const ts::Json& last = saved->metadata["extra"]["history"].back();
  EXPECT_EQ(last["task"], "regression");
  EXPECT_FALSE(last.contains("accuracy"));
  EXPECT_FALSE(last.contains("test_accuracy"));
  // Provenance, against Python's hashlib.
  const ts::Json& data = last["data"];
  const ts::Json digests = csv_manifest()["sha256"];
  EXPECT_EQ(data["name"], "csv");
  ASSERT_EQ(data["files"].size(), 2U);
  EXPECT_EQ(data["files"][0]["path"], file("regression_train.csv"));
  EXPECT_EQ(data["files"][0]["sha256"], digests["regression_train.csv"]);
  EXPECT_EQ(data["files"][1]["sha256"], digests["regression_test.csv"]);
  EXPECT_EQ(data["files"][0]["bytes"], fs::file_size(file("regression_train.csv")));
  EXPECT_EQ(data["train_samples"], 2000);
  EXPECT_EQ(data["test_samples"], 500);
  EXPECT_EQ(data["sha256"].get<std::string>().size(), 64U);
}

TEST(UserData, ResumingOnOtherDataSaysSoFirstAndEachEpochRecordsItsData) {
  const test_files::TempDir dir;
  auto config = regression_config(dir.path(), regression_csv);
  config["epochs"] = 1;
  ts::train(ts::TrainingConfig::from_json(config), ts::Registries());
  config["data"] = {{"name", "npz"}, {"path", file("regression.npz")}};
  std::ostringstream out;
  {
    ts::cli::TrainOutput rendered(out, false);
    const auto report = ts::train(ts::TrainingConfig::from_json(config), ts::Registries(), &rendered);
    ASSERT_EQ(report.history.size(), 2U);
    EXPECT_EQ(report.history[0].data["name"], "csv");
    EXPECT_EQ(report.history[1].data["name"], "npz");
  }
  const std::string text = out.str();
  const std::string first_line = text.substr(0, text.find('\n'));
  EXPECT_TRUE(first_line.starts_with("resuming epoch 1 trained on csv " + file("regression_train.csv") +
                                     ", " + file("regression_test.csv") +
                                     " (2000 training and 500 test samples, sha256 "))
      << text;
  EXPECT_NE(
      first_line.find("; this run trains on npz " + file("regression.npz") + " (2000 training and 500 test"),
      std::string::npos)
      << text;
  // The same data again: nothing to say.
  std::ostringstream again;
  {
    ts::cli::TrainOutput rendered(again, false);
    ts::train(ts::TrainingConfig::from_json(config), ts::Registries(), &rendered);
  }
  EXPECT_EQ(again.str().find("trained on"), std::string::npos) << again.str();
  EXPECT_TRUE(again.str().starts_with("data npz")) << again.str();
}

TEST(UserData, AnNpzRegressionShapesTargetsToTheOutput) {
  const test_files::TempDir dir;
  auto config = regression_config(dir.path(), {{"name", "npz"}, {"path", file("regression.npz")}});
  config["criterion"] = {{"name", "HuberLoss"}};
  const auto report = train(config);
  EXPECT_LT(report.history.back().test_loss, 0.05);
  // Three outputs for one target a sample cannot be scored.
  config["model"]["arguments"]["out_features"] = 3;
  try {
    train(config);
    ADD_FAILURE() << "trained";
  } catch (const ts::DataError& error) {
    EXPECT_NE(std::string(error.what())
                  .find(file("regression.npz") + ": array \"y_train\": holds 1 target value(s) a "
                                                 "sample (shape [2000]); the model gives 3"),
              std::string::npos)
        << error.what();
  }
}

TEST(UserData, AQuotedSemicolonCsvClassifiesWithTheLabelInTheMiddle) {
  const test_files::TempDir dir;
  const auto report = train(blobs_config(dir.path(), {{"name", "csv"},
                                                      {"train", file("blobs_train.csv")},
                                                      {"test", file("blobs_test.csv")},
                                                      {"target", "label"},
                                                      {"delimiter", ";"}}));
  EXPECT_GE(report.history.back().test_accuracy, 0.95);
  EXPECT_EQ(report.history.back().task, "classification");
}

// Each fault of a user's CSV stops the job before its first epoch, naming the file and the line, and
// nothing is written to the store.
TEST(UserData, BadCsvDataFailsBeforeTheFirstEpochNamingTheFileAndTheLine) {
  struct Case {
    const char* file;
    int features;
    const char* expected;
  };
  for (const auto& [name, features, expected] : {
           Case{"half_label.csv", 3, "line 3: the label 2.5 is not a class index"},
           Case{"big_label.csv", 3, "line 4: label 7 is not one of the model's 3 classes"},
           Case{"not_number.csv", 2, "line 3, column 2 (\"x2\"): \"abc\" is not a number"},
           Case{"nan.csv", 2, "line 2, column 2 (\"x2\"): \"nan\" is NaN or infinite"},
           Case{"no_target.csv", 2, "line 1, the header has no column \"y\" (the target)"},
           Case{"header_only.csv", 2, "has a header but no rows: a split needs samples"},
       }) {
    SCOPED_TRACE(name);
    const test_files::TempDir dir;
    auto config = blobs_config(
        dir.path() / "store",
        {{"name", "csv"}, {"train", file("blobs_train.csv")}, {"test", file(name)}, {"target", "y"}});
    config["data"]["train"] = file(name);
    config["model"]["arguments"]["in_features"] = features;
    try {
      train(config);
      ADD_FAILURE() << "trained";
    } catch (const ts::DataError& error) {
      const std::string message = error.what();
      EXPECT_TRUE(message.starts_with(file(name) + ": " + expected)) << message;
    }
    EXPECT_FALSE(fs::exists(dir.path() / "store")) << "nothing is written";
  }
}

TEST(UserData, ARegressionCriterionNeedsTheUsersData) {
  const test_files::TempDir dir;
  auto config = job_support::small_config(dir.path() / "store", 1);
  config["criterion"] = {{"name", "MSELoss"}};
  try {
    ts::train(ts::TrainingConfig::from_json(config), ts::Registries(job_support::models()));
    ADD_FAILURE() << "trained";
  } catch (const ts::ArgumentError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("config.criterion: takes float targets (regression), and synthetic "
                        "holds class labels"),
              std::string::npos)
        << error.what();
  }
  EXPECT_FALSE(fs::exists(dir.path() / "store"));
}

TEST(UserData, TheCsvConfigurationNamesItsKeys) {
  EXPECT_EQ(fault({{"name", "csv"}, {"train", "a.csv"}, {"test", "b.csv"}}),
            "config.data.target: missing (the target column's name)");
  EXPECT_EQ(fault({{"train", "a.csv"}, {"name", "csv"}, {"test", {"x.npy", "y.npy"}}, {"target", "y"}}),
            "config.data.test: expected the test split's CSV file as a non-empty string, got [\"x.npy\", "
            "\"y.npy\"]");
  EXPECT_EQ(
      fault({{"name", "csv"}, {"train", "a.csv"}, {"test", "b.csv"}, {"target", "y"}, {"delimiter", ";;"}}),
      "config.data.delimiter: expected one character other than a quote or a line end, such as \";\" or "
      "\"\\t\", got \";;\"");
  EXPECT_EQ(
      fault({{"name", "csv"}, {"train", "a.csv"}, {"test", "b.csv"}, {"target", "y"}, {"flatten", false}}),
      "config.data.flatten: unknown key (a csv data set takes name, train, test, target, delimiter and "
      "normalize)");
  const auto options = ts::DataOptions::from_json(
      {{"name", "csv"}, {"train", "a.csv"}, {"test", "/d/b.csv"}, {"target", "y"}, {"delimiter", "\t"}},
      "config.data", "/configs");
  EXPECT_EQ(options.train_csv, fs::path("/configs/a.csv"));
  EXPECT_EQ(options.delimiter, '\t');
  EXPECT_EQ(options.to_json(),
            ts::parse_json(R"({"name": "csv", "train": "/configs/a.csv", "test": "/d/b.csv", "target": "y",
                              "delimiter": "\t"})"));
}

// Fashion-MNIST as a user's stored .npz of float32 [N, 784] (188 MB), the seed's MLP as the main job
// trains it: the same accuracy as from the IDX files.
TEST(UserData, FashionMnistAsAnNpzTrainsTheSeedsMlpTo84PercentIn3Epochs) {
  const test_files::TempDir dir;
  const std::string command = std::string(TORCHSYSTEM_PYTHON) + " " + TORCHSYSTEM_NUMPY_WRITER + " " +
                              dir.path().string() + " --fashion-mnist " + ts::fashion_mnist_root.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  ts::Json config = read_json(fs::path(TORCHSYSTEM_EXAMPLES) / "configs" / "seed.json");
  config.erase("plugins");
  config["store"] = (dir.path() / "store").string();
  config["data"] = {{"name", "npz"}, {"path", (dir.path() / "fashion.npz").string()}};
  const auto report = ts::train(ts::TrainingConfig::from_json(config), ts::Registries(job_support::models()));
  ASSERT_EQ(report.history.size(), 3U);
  EXPECT_GE(report.history.back().test_accuracy, 0.84);
  EXPECT_EQ(report.history.back().data["train_samples"], 60000);
}

}  // namespace numpy_test
