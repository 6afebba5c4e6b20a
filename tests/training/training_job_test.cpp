// The training job: configuration checks, the synthetic task, training that saves every epoch under the
// model's identity and resumes exactly where it stopped.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <torch/utils.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "example_output.hpp"
#include "job_support.hpp"
#include "temp_dir.hpp"
#include "torch_test_support.hpp"

#include "seed_models.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch.hpp"
#include "torchsystem/training/training_job.hpp"
#include "torchsystem/value_traits.hpp"
#include "train_output.hpp"

namespace training_job_test {

namespace ts = torchsystem;

using job_support::models;
using job_support::small_config;
using job_support::write_config;
using test_files::TempDir;

ts::TrainingReport run(const ts::Json& config, std::string* output = nullptr,
                       const std::atomic<bool>* stop = nullptr) {
  std::ostringstream out;
  ts::cli::TrainOutput rendered(out, false);
  auto report = ts::train(ts::TrainingConfig::from_json(config), ts::Registries(models()), &rendered, stop);
  if (output) *output = out.str();
  return report;
}

TEST(TrainingConfig, ErrorsNameTheKey) {
  const TempDir dir;
  auto config = small_config(dir.path(), 1);
  const auto fault = [&](const std::string& key, const ts::Json& value) {
    auto changed = config;
    changed[key] = value;
    return torch_test::test_message([&] { ts::TrainingConfig::from_json(changed); });
  };
  EXPECT_EQ(fault("epochs", 0), "config.epochs: expected an int from 1 to 1000000, got 0");
  EXPECT_EQ(fault("batch_size", "64"), "config.batch_size: expected an int from 1 to 1048576, got \"64\"");
  EXPECT_EQ(fault("seed", -1), "config.seed: expected an int >= 0, got -1");
  // Checked before anything trains, not at the first save.
  EXPECT_EQ(fault("seed", ts::parse_json("18446744073709551615")),
            "config.seed: expected an int >= 0 and at most 9223372036854775807, got 18446744073709551615");
  EXPECT_EQ(fault("seed", ts::parse_json("9223372036854775808")).substr(0, 12), "config.seed:");
  EXPECT_EQ(fault("store", ""),
            "config.store: expected the store's directory as a non-empty string, got \"\"");
  EXPECT_EQ(fault("model", "MLP"),
            "config.model: expected an entity {\"name\": ..., \"arguments\": {...}}, got \"MLP\"");
  EXPECT_EQ(fault("epoch", 3).substr(0, 26), "config.epoch: unknown key ");
  auto missing = config;
  missing.erase("optimizer");
  EXPECT_EQ(torch_test::test_message([&] { ts::TrainingConfig::from_json(missing); }),
            "config.optimizer: missing");
  EXPECT_EQ(fault("data", ts::parse_json(R"({"classes": 0})")),
            "config.data.classes: expected an int from 1 to 65536, got 0");
  EXPECT_EQ(fault("plugins", "seed"),
            "config.plugins: expected a list of plugin names or paths, got \"seed\"");
  EXPECT_EQ(fault("plugins", ts::parse_json(R"(["seed", ""])")),
            "config.plugins[1]: expected a plugin name or a library path as a non-empty string, got \"\"");
  // Before, the system cut a path at its NUL: "weights\0/../../etc" trained into "weights".
  const std::string cut("weights\0/../../etc", 19);
  EXPECT_EQ(fault("store", cut),
            "config.store: expected the store's directory without a NUL character, got " +
                ts::describe_json(ts::Json(cut)));
  EXPECT_TRUE(fault("plugins", ts::Json::array({cut}))
                  .starts_with("config.plugins[0]: expected a plugin name or a library path without a NUL"));
  EXPECT_TRUE(fault("data", ts::Json({{"name", "MNIST"}, {"root", cut}}))
                  .starts_with("config.data.root: expected the data set's directory without a NUL"));
}

TEST(TrainingConfig, RelativeStoreIsTakenFromTheConfigurationsDirectory) {
  auto config = small_config("weights", 1);
  EXPECT_EQ(ts::TrainingConfig::from_json(config, "/configs").store,
            std::filesystem::path("/configs/weights"));
  EXPECT_EQ(ts::TrainingConfig::from_json(config).store, std::filesystem::path("weights"));
}

TEST(TrainingJob, EntityErrorsGiveThePathFromTheConfiguration) {
  const TempDir dir;
  auto config = small_config(dir.path(), 1);
  config["model"]["arguments"]["hidden_size"] = "sixteen";
  EXPECT_EQ(torch_test::test_message([&] { run(config); }),
            "config.model -> MLP.hidden_size: expected int, got \"sixteen\"");
  config = small_config(dir.path(), 1);
  config["optimizer"]["name"] = "Adamm";
  EXPECT_NE(torch_test::test_message([&] { run(config); }).find("config.optimizer: unknown name \"Adamm\""),
            std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()))
      << "nothing is saved for a configuration that does not build";
}

TEST(TrainingJob, AModelOrLossThatDoesNotFitTheTaskIsAConfigurationError) {
  const TempDir dir;
  auto config = small_config(dir.path(), 1);
  config["model"]["arguments"]["input_size"] = 30;
  EXPECT_EQ(torch_test::test_message([&] { run(config); }).substr(0, 62),
            "config.model: cannot run on the task's inputs of shape [2, 32]");
  config = small_config(dir.path(), 1);
  config["model"]["arguments"]["output_size"] = 3;
  EXPECT_EQ(
      torch_test::test_message([&] { run(config); }),
      "config.model: gives outputs of shape [2, 3] for 2 samples; the task needs [2, 4] (a score per class)");
  config = small_config(dir.path(), 1);
  config["criterion"] = ts::parse_json(R"({"name": "BCELoss"})");
  // BCELoss takes float targets: the synthetic task's class labels are not for it.
  EXPECT_EQ(torch_test::test_message([&] { run(config); }).substr(0, 78),
            "config.criterion: takes float targets (regression), and synthetic holds class ");
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(SyntheticData, SameSeedSameTensorsFreshSamplesEachEpoch) {
  ts::SyntheticDataOptions options;
  options.features = 16;
  options.train_samples = 50;
  options.test_samples = 10;
  const ts::PrototypeTask a(options, 3);
  const ts::PrototypeTask b(options, 3);
  const ts::PrototypeTask c(options, 4);
  EXPECT_TRUE(torch::equal(a.training_samples(1).inputs, b.training_samples(1).inputs));
  EXPECT_TRUE(torch::equal(a.test_samples().targets, b.test_samples().targets));
  EXPECT_FALSE(torch::equal(a.training_samples(1).inputs, a.training_samples(2).inputs));
  EXPECT_FALSE(torch::equal(a.training_samples(1).inputs, c.training_samples(1).inputs));
  EXPECT_EQ(a.training_samples(1).inputs.sizes(), (std::vector<std::int64_t>{50, 16}));
  EXPECT_LT(a.training_samples(1).targets.max().item<std::int64_t>(), options.classes);
  EXPECT_GE(a.training_samples(1).targets.min().item<std::int64_t>(), 0);
}

TEST(TrainingJob, SavesEveryEpochUnderTheModelsIdentityAndLearns) {
  const TempDir dir;
  std::string output;
  const auto report = run(small_config(dir.path(), 3), &output);
  ASSERT_EQ(report.history.size(), 3U);
  EXPECT_EQ(report.resumed_from, 0);
  EXPECT_FALSE(report.interrupted);
  EXPECT_LT(report.history.back().loss, report.history.front().loss) << output;
  EXPECT_GT(report.history.back().test_accuracy, 0.6) << output;
  const auto listed = ts::CheckpointStore(dir.path()).list();
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].name + "-" + listed[0].hash, report.identity);
  EXPECT_EQ(listed[0].epoch, 3);
  EXPECT_EQ(report.identity.substr(0, 4), "MLP-");
  EXPECT_NE(output.find("starting fresh"), std::string::npos) << output;
  EXPECT_NE(output.find("epoch 3  loss "), std::string::npos) << output;
  EXPECT_NE(output.find("  epoch 1: 25% ("), std::string::npos)
      << "progress while the epoch runs: " << output;
}

TEST(TrainingJob, ResumingContinuesExactlyAsAnUninterruptedRun) {
  const TempDir straight;
  const TempDir resumed;
  const auto four = run(small_config(straight.path(), 4));
  run(small_config(resumed.path(), 2));
  std::string output;
  const auto continued = run(small_config(resumed.path(), 2), &output);
  EXPECT_EQ(continued.resumed_from, 2);
  EXPECT_NE(output.find("resuming from epoch 2"), std::string::npos) << output;
  ASSERT_EQ(continued.history.size(), 4U);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(continued.history[i].epoch, four.history[i].epoch);
    EXPECT_DOUBLE_EQ(continued.history[i].loss, four.history[i].loss) << "epoch " << i + 1;
    EXPECT_DOUBLE_EQ(continued.history[i].test_accuracy, four.history[i].test_accuracy) << "epoch " << i + 1;
  }
}

TEST(TrainingJob, AChangedModelHyperparameterIsANewIdentityAndStartsFresh) {
  const TempDir dir;
  const auto first = run(small_config(dir.path(), 1, 0.1));
  const auto other = run(small_config(dir.path(), 1, 0.2));
  EXPECT_NE(first.identity, other.identity);
  EXPECT_EQ(other.resumed_from, 0);
  EXPECT_EQ(ts::CheckpointStore(dir.path()).list().size(), 2U);
}

TEST(TrainingJob, AChangedOptimizerIsRefusedAndTheCheckpointKept) {
  const TempDir dir;
  const auto first = run(small_config(dir.path(), 1));
  const auto before = ts::CheckpointStore(dir.path()).list().at(0);
  auto config = small_config(dir.path(), 1);
  config["optimizer"]["arguments"]["lr"] = 0.02;
  const std::string message = torch_test::test_message([&] { run(config); });
  EXPECT_NE(message.find("optimizer"), std::string::npos) << message;
  const auto after = ts::CheckpointStore(dir.path()).list().at(0);
  EXPECT_EQ(after.epoch, before.epoch);
  EXPECT_EQ(after.metadata, before.metadata);
}

TEST(TrainingJob, AMalformedLossCurveInTheCheckpointNamesTheFile) {
  const TempDir dir;
  const auto config = small_config(dir.path(), 1);
  const auto first = run(config);
  // The same identity, saved by other code with a history that is not a list of epoch records.
  const auto model = models().create_as<torch::nn::AnyModule>(config["model"]).ptr();
  const auto criterion =
      ts::torch_catalog().losses.create_as<torch::nn::AnyModule>(config["criterion"]).ptr();
  const auto optimizer = ts::torch_catalog().optimizers.create(config["optimizer"], model->parameters());
  ts::CheckpointStore(dir.path()).save({model, criterion, optimizer, 1}, {{"history", {{{"epoch", 1}}}}});
  try {
    run(config);
    FAIL() << "a malformed history was accepted";
  } catch (const ts::CheckpointError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(first.checkpoint.string()), std::string::npos) << message;
    EXPECT_NE(message.find("extra.history"), std::string::npos) << message;
  }
}

// Before, a checkpoint at epoch 2^63-1 trained "epoch -9223372036854775808" and failed at its save.
TEST(TrainingJob, ACheckpointAtTheLastEpochIsRefusedBeforeTraining) {
  const TempDir dir;
  const auto config = ts::TrainingConfig::from_json(small_config(dir.path(), 1));
  const ts::Aggregate aggregate =
      ts::build_aggregate(config.model, config.criterion, config.optimizer, ts::Registries(models()));
  aggregate.set_epoch(std::numeric_limits<std::int64_t>::max());
  const auto saved = ts::CheckpointStore(dir.path()).save(aggregate);
  const std::string message = torch_test::test_message([&] { run(small_config(dir.path(), 1)); });
  EXPECT_NE(message.find("holds epoch 9223372036854775807"), std::string::npos) << message;
  EXPECT_EQ(ts::CheckpointStore(dir.path()).list().at(0).epoch, std::numeric_limits<std::int64_t>::max())
      << "the checkpoint is kept";
}

TEST(TrainingJob, StopLosesOnlyTheEpochInProgress) {
  const TempDir dir;
  run(small_config(dir.path(), 1));
  const std::atomic<bool> stop{true};
  std::string output;
  const auto report = run(small_config(dir.path(), 3), &output, &stop);
  EXPECT_TRUE(report.interrupted);
  EXPECT_EQ(report.history.size(), 1U);
  EXPECT_NE(output.find("interrupted during epoch 2"), std::string::npos) << output;
  EXPECT_EQ(ts::CheckpointStore(dir.path()).list().at(0).epoch, 1);
}

// flock locks of two open files conflict even within one process, so the test holds the lock itself.
TEST(TrainingJob, AHeldIdentityFailsAtOnceOrIsWaitedFor) {
  const TempDir dir;
  run(small_config(dir.path(), 1));
  const ts::CheckpointStore store(dir.path());
  const ts::CheckpointInfo first = store.list().at(0);
  auto held = store.try_lock(first.name, first.hash);
  ASSERT_TRUE(held.has_value());

  const std::string refused = torch_test::test_message([&] { run(small_config(dir.path(), 1)); });
  EXPECT_NE(refused.find("another job is training " + first.name + "-" + first.hash + " in this store (pid " +
                         std::to_string(getpid()) + " on host "),
            std::string::npos)
      << refused;
  EXPECT_EQ(store.list().at(0).epoch, 1) << "nothing was trained";

  auto waiting = ts::TrainingConfig::from_json(small_config(dir.path(), 2));
  waiting.wait_for_lock = true;
  const std::atomic<bool> stop{true};
  std::ostringstream out;
  ts::cli::TrainOutput rendered(out, false);
  const auto stopped = ts::train(waiting, ts::Registries(models()), &rendered, &stop);
  EXPECT_TRUE(stopped.interrupted);
  EXPECT_TRUE(stopped.history.empty());
  EXPECT_NE(out.str().find("waiting for the job training " + first.name + "-" + first.hash),
            std::string::npos)
      << out.str();

  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    held.reset();
  });
  std::ostringstream resumed_out;
  ts::cli::TrainOutput resumed_rendered(resumed_out, false);
  const auto resumed = ts::train(waiting, ts::Registries(models()), &resumed_rendered);
  release.join();
  EXPECT_FALSE(resumed.interrupted);
  EXPECT_EQ(resumed.resumed_from, 1) << resumed_out.str();
  EXPECT_EQ(store.list().at(0).epoch, 3);
}

}  // namespace training_job_test

// ---------------------------------------------------------------------------------------------------
// The `train` program, run as a process.

namespace training_job_test {

TEST(TrainProgram, TheExampleConfigurationIsTheSeedsIdentity) {
  std::ifstream file(std::filesystem::path(TORCHSYSTEM_EXAMPLES) / "configs" / "seed.json");
  std::ostringstream text;
  text << file.rdbuf();
  const auto config = ts::TrainingConfig::from_json(ts::parse_json(text.str()));
  const auto model = models().create(config.model);
  EXPECT_EQ(ts::getname(model) + "-" + ts::gethash(model), "MLP-af51a51a38f7ad81f9523360fafe7068");
  EXPECT_EQ(config.optimizer, ts::parse_json(R"({"name": "Adam", "arguments": {"lr": 0.001}})"));
  EXPECT_EQ(config.criterion, ts::parse_json(R"({"name": "CrossEntropyLoss"})"));
  EXPECT_EQ(config.data.name, "FashionMNIST");
  EXPECT_EQ(config.data.root, ts::fashion_mnist_root);
  EXPECT_EQ(config.plugins, std::vector<std::string>{"seed"});
}

TEST(TrainProgram, RunTwiceResumesAndTheCliListsTheCheckpoint) {
  const TempDir dir;
  write_config(dir.path() / "job.json", small_config("weights", 2));
  const std::string command = std::string(TORCHSYSTEM_CLI) + " train " + (dir.path() / "job.json").string();
  const auto first = example_output::run_command(command);
  EXPECT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("starting fresh"), std::string::npos) << first.output;
  const auto second = example_output::run_command(command);
  EXPECT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("resuming from epoch 2"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("epoch 4  loss"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("done: 4 epochs in all"), std::string::npos) << second.output;

  const auto listed = example_output::run_command(std::string(TORCHSYSTEM_CLI) + " checkpoints " +
                                                  (dir.path() / "weights").string() + " --json");
  ASSERT_EQ(listed.status, 0) << listed.output;
  const auto entries = ts::parse_json(listed.output);
  ASSERT_EQ(entries.size(), 1U);
  EXPECT_EQ(entries[0]["name"], "MLP");
  EXPECT_EQ(entries[0]["epoch"], 4);
  // The per-epoch metrics of both runs.
  const ts::Json& history = entries[0]["history"];
  ASSERT_EQ(history.size(), 4U) << listed.output;
  for (std::size_t index = 0; index < history.size(); ++index) {
    const ts::Json& record = history[index];
    EXPECT_EQ(record["epoch"], index + 1);
    for (const char* key :
         {"loss", "accuracy", "test_loss", "test_accuracy", "seconds", "samples_per_second"})
      EXPECT_TRUE(record[key].is_number()) << key << " in " << record.dump();
    EXPECT_GE(record["test_accuracy"].get<double>(), 0.0);
    EXPECT_LE(record["test_accuracy"].get<double>(), 1.0);
    EXPECT_GT(record["seconds"].get<double>(), 0.0);
    EXPECT_NEAR(record["samples_per_second"].get<double>() * record["seconds"].get<double>(), 600, 1e-6);
  }
  EXPECT_NE(first.output.find("data synthetic: 600 training and 200 test samples"), std::string::npos)
      << first.output;
  EXPECT_NE(first.output.find("samples/s"), std::string::npos) << first.output;
}

// A catalog module is a model too: `train` builds it without any plugin, as `create` does.
TEST(TrainProgram, ACatalogModuleTrainsWithoutAPlugin) {
  const TempDir dir;
  auto config = small_config("weights", 1);
  config["model"] =
      ts::parse_json(R"({"name": "Linear", "arguments": {"in_features": 32, "out_features": 4}})");
  std::ofstream(dir.path() / "linear.json") << ts::dumps(config);  // no "plugins"
  const auto trained = example_output::run_command(std::string(TORCHSYSTEM_CLI) + " train " +
                                                   (dir.path() / "linear.json").string());
  ASSERT_EQ(trained.status, 0) << trained.output;
  const auto created = example_output::run_command("echo '" + ts::dumps(config["model"]) + "' | " +
                                                   std::string(TORCHSYSTEM_CLI) + " create -");
  ASSERT_EQ(created.status, 0) << created.output;
  const ts::Json identity = ts::parse_json(created.output);
  const std::string expected = "Linear-" + identity["hash"].get<std::string>();
  EXPECT_NE(trained.output.find("model " + expected + " (132 parameters)"), std::string::npos)
      << trained.output;
  EXPECT_NE(trained.output.find("saved " + expected + ".pth"), std::string::npos) << trained.output;
  const auto found =
      ts::CheckpointStore(dir.path() / "weights").find("Linear", identity["hash"].get<std::string>());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->epoch, 1);
}

TEST(TrainProgram, InterruptLosesAtMostTheEpochInProgress) {
  const TempDir dir;
  auto config = small_config("weights", 100000);
  write_config(dir.path() / "job.json", config);
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    const std::string log = (dir.path() / "log.txt").string();
    freopen(log.c_str(), "w", stdout);
    execl(TORCHSYSTEM_CLI, "torchsystem", "train", (dir.path() / "job.json").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait for a saved epoch, then press Ctrl-C.
  const ts::CheckpointStore store(dir.path() / "weights");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (store.list(true).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_FALSE(store.list(true).empty()) << "no epoch was saved within a minute";
  kill(child, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  std::ifstream log(dir.path() / "log.txt");
  const std::string output((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  const auto interrupted = output.find("interrupted during epoch ");
  ASSERT_NE(interrupted, std::string::npos) << output;
  const std::int64_t in_progress = std::stoll(output.substr(interrupted + 25));
  const auto saved = store.list();
  ASSERT_EQ(saved.size(), 1U);
  EXPECT_EQ(saved[0].epoch, in_progress - 1) << "every finished epoch is saved, and only those";
}

// --- One writer per identity, with real processes -------------------------------------------------------

using job_support::exit_status;
using job_support::read_log;
using job_support::start_train;
using job_support::wait_until;

/// The epochs a job's output reports as saved, with their loss as printed ("epoch 3  loss 0.6931 ...").
std::map<std::int64_t, std::string> reported_saves(const std::string& output) {
  std::map<std::int64_t, std::string> saves;
  const std::regex line(R"(^epoch (\d+)  loss (\d+\.\d{4}) .*  saved MLP-)");
  std::istringstream in(output);
  for (std::string text; std::getline(in, text);) {
    std::smatch match;
    if (std::regex_search(text, match, line)) saves[std::stoll(match[1])] = match[2];
  }
  return saves;
}

/// Every epoch reported saved is in the store's history, with the loss the job printed; the history
/// runs from 1 without a gap. Returns the checkpoint's epoch.
std::int64_t expect_every_reported_save_kept(const std::filesystem::path& store,
                                             const std::map<std::int64_t, std::string>& reported) {
  const auto saved = ts::CheckpointStore(store).list();
  EXPECT_EQ(saved.size(), 1U);
  if (saved.empty()) return 0;
  const ts::Json& history = saved[0].metadata["extra"]["history"];
  EXPECT_EQ(history.size(), static_cast<std::size_t>(saved[0].epoch));
  for (std::size_t index = 0; index < history.size(); ++index)
    EXPECT_EQ(history[index]["epoch"], index + 1) << "the history has no gap";
  for (const auto& [epoch, loss] : reported) {
    EXPECT_LE(epoch, saved[0].epoch) << "epoch " << epoch << " was reported saved, and is lost";
    if (epoch > saved[0].epoch) continue;
    std::ostringstream kept;
    kept << std::fixed << std::setprecision(4) << history[epoch - 1]["loss"].get<double>();
    EXPECT_EQ(kept.str(), loss) << "epoch " << epoch << " in the history is not the one reported";
  }
  return saved[0].epoch;
}

TEST(TrainProgramLock, ASecondJobOfTheIdentityFailsAtOnceNamingTheHolderAndOthersRun) {
  const TempDir dir;
  write_config(dir.path() / "long.json", small_config("weights", 100000));
  write_config(dir.path() / "other.json", small_config("weights", 1, 0.2));  // another identity
  const pid_t holder = start_train(dir.path() / "long.json", dir.path() / "long.log");
  ASSERT_GT(holder, 0);
  const ts::CheckpointStore store(dir.path() / "weights");
  ASSERT_TRUE(wait_until([&] { return !store.list(true).empty(); })) << read_log(dir.path() / "long.log");

  const auto second = example_output::run_command(std::string(TORCHSYSTEM_CLI) + " train " +
                                                  (dir.path() / "long.json").string() + " 2>&1");
  EXPECT_EQ(WEXITSTATUS(second.status), 1) << second.output;
  const std::string identity = store.list().at(0).name + "-" + store.list().at(0).hash;
  EXPECT_NE(second.output.find("another job is training " + identity + " in this store (pid " +
                               std::to_string(holder) + " on host "),
            std::string::npos)
      << second.output;
  EXPECT_EQ(second.output.find("epoch 1  loss"), std::string::npos) << "it trained nothing";

  const auto other = example_output::run_command(std::string(TORCHSYSTEM_CLI) + " train " +
                                                 (dir.path() / "other.json").string() + " 2>&1");
  EXPECT_EQ(other.status, 0) << "another identity is not blocked: " << other.output;

  kill(holder, SIGINT);
  EXPECT_EQ(exit_status(holder), 130);
  const std::string log = read_log(dir.path() / "long.log");
  std::map<std::int64_t, std::string> reported = reported_saves(log);
  EXPECT_FALSE(reported.empty()) << log;
  // The two identities' checkpoints, the long job's among them with every epoch it reported.
  EXPECT_EQ(store.list().size(), 2U);
}

TEST(TrainProgramLock, AWaitingJobResumesFromWhatAKilledHolderSaved) {
  const TempDir dir;
  write_config(dir.path() / "long.json", small_config("weights", 100000));
  write_config(dir.path() / "short.json", small_config("weights", 2));  // the same identity
  const pid_t holder = start_train(dir.path() / "long.json", dir.path() / "long.log");
  const ts::CheckpointStore store(dir.path() / "weights");
  ASSERT_TRUE(wait_until([&] { return !store.list(true).empty(); })) << read_log(dir.path() / "long.log");
  const pid_t waiter = start_train(dir.path() / "short.json", dir.path() / "short.log", {"--wait"});
  ASSERT_TRUE(wait_until([&] {
    return read_log(dir.path() / "short.log").find("waiting for the job training") != std::string::npos;
  })) << read_log(dir.path() / "short.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(kill(holder, SIGKILL), 0);  // while it holds the lock, perhaps mid-save
  EXPECT_EQ(exit_status(holder), -1);
  EXPECT_EQ(exit_status(waiter), 0) << read_log(dir.path() / "short.log");

  const std::string first = read_log(dir.path() / "long.log"), second = read_log(dir.path() / "short.log");
  const auto killed = reported_saves(first), resumed = reported_saves(second);
  ASSERT_FALSE(killed.empty()) << first;
  const std::smatch match = [&] {
    std::smatch found;
    std::regex_search(second, found, std::regex(R"(resuming from epoch (\d+))"));
    return found;
  }();
  ASSERT_FALSE(match.empty()) << second;
  const std::int64_t from = std::stoll(match[1]);
  EXPECT_GE(from, killed.rbegin()->first) << "it resumed from at least the last epoch reported saved";
  EXPECT_EQ(resumed.size(), 2U) << second;
  std::map<std::int64_t, std::string> all = killed;
  all.insert(resumed.begin(), resumed.end());
  EXPECT_EQ(expect_every_reported_save_kept(store.directory(), all), from + 2);
}

TEST(TrainProgramLock, JobsStartedTogetherWithWaitTakeTurnsAndLoseNoEpoch) {
  const TempDir dir;
  write_config(dir.path() / "job.json", small_config("weights", 2));
  std::vector<pid_t> jobs;
  for (int job = 0; job < 3; ++job)
    jobs.push_back(start_train(dir.path() / "job.json", dir.path() / ("job" + std::to_string(job) + ".log"),
                               {"--wait"}));
  std::map<std::int64_t, std::string> all;
  for (std::size_t job = 0; job < jobs.size(); ++job)
    EXPECT_EQ(exit_status(jobs[job]), 0) << read_log(dir.path() / ("job" + std::to_string(job) + ".log"));
  for (std::size_t job = 0; job < jobs.size(); ++job) {
    const std::string log = read_log(dir.path() / ("job" + std::to_string(job) + ".log"));
    const auto reported = reported_saves(log);
    EXPECT_EQ(reported.size(), 2U) << log;
    for (const auto& [epoch, loss] : reported)
      EXPECT_TRUE(all.emplace(epoch, loss).second) << "epoch " << epoch << " was saved by two jobs";
  }
  EXPECT_EQ(all.size(), 6U);
  EXPECT_EQ(expect_every_reported_save_kept(dir.path() / "weights", all), 6);
}

}  // namespace training_job_test
