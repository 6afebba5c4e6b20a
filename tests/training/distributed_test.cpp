// Data-parallel training: the environment a worker is launched with, the process group's collectives
// (two ranks on threads of this process, over loopback), and real `torchsystem train` workers: two
// processes follow one process's curve, resume alike, and fail in bounded time when a rank dies.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "job_support.hpp"
#include "temp_dir.hpp"
#include "torch_test_support.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/training/distributed.hpp"
#include "torchsystem/training/training_job.hpp"

namespace distributed_test {

namespace ts = torchsystem;
using job_support::exit_status_within;
using job_support::read_log;
using job_support::small_config;
using job_support::start_train;
using job_support::wait_until;
using job_support::write_config;
using test_files::TempDir;
using namespace std::chrono_literals;

/// Sets environment variables for one test and restores them after it.
class Environment {
 public:
  Environment(std::initializer_list<std::pair<const char*, const char*>> variables) {
    for (const auto& [name, value] : variables) {
      const char* before = std::getenv(name);
      saved_.emplace_back(name, before ? std::optional<std::string>(before) : std::nullopt);
      if (value) {
        setenv(name, value, 1);
      } else {
        unsetenv(name);
      }
    }
  }
  ~Environment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

std::string environment_error(std::initializer_list<std::pair<const char*, const char*>> variables) {
  const Environment set(variables);
  return torch_test::test_message([] { ts::DistributedOptions::from_environment(); });
}

TEST(DistributedOptions, AreReadFromTorchrunsVariables) {
  {
    const Environment unset({{"WORLD_SIZE", nullptr}});
    EXPECT_FALSE(ts::DistributedOptions::from_environment().has_value()) << "no WORLD_SIZE: one process";
  }
  const Environment set({{"WORLD_SIZE", "4"},
                         {"RANK", "3"},
                         {"LOCAL_RANK", "1"},
                         {"MASTER_ADDR", "10.0.0.1"},
                         {"MASTER_PORT", "29400"},
                         {"TORCHSYSTEM_DIST_TIMEOUT", "7"}});
  const auto options = ts::DistributedOptions::from_environment();
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->world_size, 4);
  EXPECT_EQ(options->rank, 3);
  EXPECT_EQ(options->local_rank, 1);
  EXPECT_EQ(options->master_addr, "10.0.0.1");
  EXPECT_EQ(options->master_port, 29400);
  EXPECT_EQ(options->timeout, 7s);
}

TEST(DistributedOptions, AVariableMissingOrMalformedIsNamedWithWhatWasExpected) {
  const auto valid = [](const char* name, const char* value) {
    std::vector<std::pair<const char*, const char*>> variables{
        {"WORLD_SIZE", "2"},      {"RANK", "1"},
        {"LOCAL_RANK", nullptr},  {"MASTER_ADDR", "127.0.0.1"},
        {"MASTER_PORT", "29500"}, {"TORCHSYSTEM_DIST_TIMEOUT", nullptr}};
    for (auto& variable : variables)
      if (std::string(variable.first) == name) variable.second = value;
    const Environment set(
        {variables[0], variables[1], variables[2], variables[3], variables[4], variables[5]});
    return torch_test::test_message([] { ts::DistributedOptions::from_environment(); });
  };
  EXPECT_EQ(valid("RANK", "2"), "environment RANK: expected an int from 0 to 1, got \"2\"");
  EXPECT_EQ(valid("RANK", "one"), "environment RANK: expected an int from 0 to 1, got \"one\"");
  EXPECT_EQ(valid("RANK", nullptr), "environment RANK: missing; expected this process's rank, from 0");
  EXPECT_EQ(valid("WORLD_SIZE", "0"), "environment WORLD_SIZE: expected an int from 1 to 65536, got \"0\"");
  EXPECT_EQ(valid("WORLD_SIZE", "-2"), "environment WORLD_SIZE: expected an int from 1 to 65536, got \"-2\"");
  EXPECT_EQ(valid("MASTER_ADDR", ""),
            "environment MASTER_ADDR: missing; expected the address of rank 0's machine");
  EXPECT_EQ(valid("MASTER_PORT", "65536"),
            "environment MASTER_PORT: expected an int from 1 to 65535, got \"65536\"");
  EXPECT_EQ(valid("MASTER_PORT", "99999999999999999999"),
            "environment MASTER_PORT: expected an int from 1 to 65535, got \"99999999999999999999\"");
  EXPECT_EQ(valid("TORCHSYSTEM_DIST_TIMEOUT", "0"),
            "environment TORCHSYSTEM_DIST_TIMEOUT: expected an int from 1 to 86400, got \"0\"");
  EXPECT_EQ(valid("LOCAL_RANK", "x"), "environment LOCAL_RANK: expected an int from 0 to 1, got \"x\"");
  EXPECT_EQ(valid("RANK", "1"), "(no exception)") << "the valid environment itself";
}

// --- The process group, two ranks on threads of this process ------------------------------------------

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

ts::DistributedOptions rank_options(int rank, int world_size, int port, std::chrono::seconds timeout = 20s) {
  ts::DistributedOptions options;
  options.rank = rank;
  options.world_size = world_size;
  options.local_rank = rank;
  options.master_port = static_cast<std::uint16_t>(port);
  options.timeout = timeout;
  return options;
}

/// Runs `body(group)` as ranks 0 and 1 at once, each on its own thread; returns what each returned.
template <class Body>
auto on_two_ranks(Body body) {
  const int port = free_port();
  auto run = [&](int rank) {
    ts::ProcessGroup group(rank_options(rank, 2, port));
    return body(group);
  };
  auto rank1 = std::async(std::launch::async, run, 1);
  auto result0 = run(0);
  return std::make_pair(std::move(result0), rank1.get());
}

TEST(ProcessGroup, BroadcastsEveryTypeAndSumsInPlace) {
  const auto [rank0, rank1] = on_two_ranks([](ts::ProcessGroup& group) {
    const double base = group.rank() + 1;
    std::vector<at::Tensor> state{at::full({2, 3}, base), at::full({4}, static_cast<std::int64_t>(base) * 10),
                                  at::full({1}, base * 100)};
    group.broadcast(state, "the state");
    const at::Tensor sums = at::full({3}, base, at::kDouble);
    group.all_reduce_sum({sums}, "the sums");
    std::vector<double> seen{state[0][1][2].item<double>(), state[1][3].item<double>(),
                             state[2][0].item<double>()};
    for (int index = 0; index < 3; ++index) seen.push_back(sums[index].item<double>());
    EXPECT_EQ(state[1].scalar_type(), at::kLong) << "each tensor keeps its type";
    return seen;
  });
  const std::vector<double> expected{1, 10, 100, 3, 3, 3};  // rank 0's state; 1 + 2
  EXPECT_EQ(rank0, expected);
  EXPECT_EQ(rank1, expected);
}

TEST(ProcessGroup, GradientsAreSummedInBucketsWithEachRanksShareAndTheStopFlag) {
  const auto [rank0, rank1] = on_two_ranks([](ts::ProcessGroup& group) {
    std::vector<at::Tensor> parameters{at::zeros({5}), at::zeros({7}), at::zeros({3}),
                                       at::zeros({4}, at::kDouble)};
    const double scale = group.rank() + 1;
    for (std::size_t index = 0; index < parameters.size(); ++index) {
      parameters[index].requires_grad_(true);
      // Rank 0 leaves the third without a gradient: it counts as zeros.
      if (group.rank() == 0 && index == 2) continue;
      parameters[index].mutable_grad() =
          at::full_like(parameters[index], scale * static_cast<double>(index + 1));
    }
    // 40 bytes: [5 floats], [7 floats, 3 floats], [4 doubles]
    ts::GradientReducer reducer(group, parameters, 40);
    EXPECT_EQ(reducer.buckets(), 3U);
    const double weight = group.rank() == 0 ? 0.25 : 0.75;
    const auto result =
        reducer.reduce(at::scalar_tensor(2.0 * scale), weight, group.rank() == 1, "the gradients");
    std::vector<double> seen{result.loss.item<double>(), result.stop ? 1.0 : 0.0};
    for (const auto& parameter : parameters) {
      seen.push_back(parameter.grad()[0].item<double>());
      EXPECT_TRUE(parameter.grad().eq(parameter.grad()[0]).all().item<bool>());
    }
    return seen;
  });
  // The loss: 0.25 * 2 + 0.75 * 4; the gradient of parameter i: (0.25 * 1 + 0.75 * 2) * (i + 1), but
  // the third has only rank 1's share: 0.75 * 2 * 3.
  const std::vector<double> expected{3.5, 1, 1.75, 3.5, 4.5, 7};
  EXPECT_EQ(rank0, expected);
  EXPECT_EQ(rank1, expected);
}

TEST(ProcessGroup, ARendezvousNobodyJoinsFailsAfterTheTimeoutNamingTheAddress) {
  const int port = free_port();
  const auto started = std::chrono::steady_clock::now();
  const std::string message =
      torch_test::test_message([&] { ts::ProcessGroup group(rank_options(0, 2, port, 1s)); });
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
  EXPECT_EQ(message.rfind("rank 0 of 2: cannot join the process group of 2 at 127.0.0.1:" +
                              std::to_string(port) + " within 1 s: ",
                          0),
            0U)
      << message;
}

// --- Real workers --------------------------------------------------------------------------------------

struct SavedRun {
  std::vector<ts::EpochRecord> history;
  std::vector<std::pair<std::string, at::Tensor>> parameters;
};

/// The history and the parameters the store holds for the small job's identity.
SavedRun saved_run(const ts::Json& config) {
  const auto parsed = ts::TrainingConfig::from_json(config);
  const auto& catalog = ts::torch_catalog();
  const auto model = job_support::models().create(parsed.model);
  const auto criterion = catalog.losses.create(parsed.criterion);
  const auto optimizer = catalog.optimizers.create(parsed.optimizer, model->parameters());
  const auto found = ts::CheckpointStore(parsed.store).load({model, criterion, optimizer});
  SavedRun run;
  if (!found) return run;
  for (const auto& record : found->metadata["extra"]["history"])
    run.history.push_back(ts::EpochRecord::from_json(record));
  for (const auto& item : model->named_parameters())
    run.parameters.emplace_back(item.key(), item.value().clone());
  return run;
}

double relative_difference(double a, double b) {
  return std::abs(a - b) / std::max(std::abs(b), 1e-12);
}

void expect_same_run(const SavedRun& two, const SavedRun& one) {
  ASSERT_EQ(two.history.size(), one.history.size());
  for (std::size_t epoch = 0; epoch < one.history.size(); ++epoch) {
    EXPECT_LT(relative_difference(two.history[epoch].loss, one.history[epoch].loss), 1e-5)
        << "epoch " << epoch + 1;
    EXPECT_LT(relative_difference(two.history[epoch].test_loss, one.history[epoch].test_loss), 1e-5)
        << "epoch " << epoch + 1;
    // Accuracies count argmaxes: a rounding-sized difference may flip one sample, no more.
    EXPECT_NEAR(two.history[epoch].accuracy, one.history[epoch].accuracy, 1.0 / 600) << "epoch " << epoch + 1;
    EXPECT_NEAR(two.history[epoch].test_accuracy, one.history[epoch].test_accuracy, 1.0 / 200)
        << "epoch " << epoch + 1;
  }
  ASSERT_EQ(two.parameters.size(), one.parameters.size());
  for (std::size_t index = 0; index < one.parameters.size(); ++index) {
    const auto& [name, tensor] = one.parameters[index];
    const double difference =
        (two.parameters[index].second - tensor).norm().item<double>() / tensor.norm().item<double>();
    EXPECT_LT(difference, 1e-5) << name;
  }
}

/// Runs `torchsystem train CONFIG [extra...]` to its end (at most two minutes) and returns its output.
std::string train_to_end(const std::filesystem::path& config, const std::vector<std::string>& extra,
                         int expected_status = 0) {
  const auto log = std::filesystem::path(config).replace_extension(".log");
  const pid_t job = start_train(config, log, extra);
  const auto status = exit_status_within(job, 120s);
  EXPECT_EQ(status, expected_status) << read_log(log);
  return read_log(log);
}

TEST(TrainProgramDistributed, TwoProcessesFollowOneProcesssCurveAndResumeAlike) {
  const TempDir dir;
  // Dropout 0: the only randomness left is the shuffling, which every rank draws alike. 600 samples in
  // batches of 64 leave a last batch of 24: shards of 12.
  auto one = small_config(dir.path() / "one", 2, 0.0), two = small_config(dir.path() / "two", 2, 0.0);
  one["batch_size"] = two["batch_size"] = 64;
  write_config(dir.path() / "one.json", one);
  write_config(dir.path() / "two.json", two);
  train_to_end(dir.path() / "one.json", {});
  const std::string first = train_to_end(dir.path() / "two.json", {"--nproc", "2"});
  EXPECT_NE(first.find("1 thread in each of 2 processes"), std::string::npos) << first;
  EXPECT_NE(first.find("done: 2 epochs in all under MLP-"), std::string::npos) << first;
  expect_same_run(saved_run(two), saved_run(one));

  // Resumed: every rank loads the same checkpoint, optimizer state included.
  train_to_end(dir.path() / "one.json", {});
  const std::string resumed = train_to_end(dir.path() / "two.json", {"--nproc", "2"});
  EXPECT_NE(resumed.find("resuming from epoch 2"), std::string::npos) << resumed;
  const SavedRun two_resumed = saved_run(two), one_resumed = saved_run(one);
  EXPECT_EQ(two_resumed.history.size(), 4U);
  expect_same_run(two_resumed, one_resumed);
  EXPECT_EQ(ts::CheckpointStore(dir.path() / "two").list().at(0).metadata["extra"]["processes"], 2);
}

TEST(TrainProgramDistributed, ASecondJobOfAHeldIdentityFailsOnEveryRank) {
  const TempDir dir;
  const auto config = small_config(dir.path() / "weights", 1);
  write_config(dir.path() / "job.json", config);
  train_to_end(dir.path() / "job.json", {});
  const ts::CheckpointStore store(dir.path() / "weights");
  const auto saved = store.list().at(0);
  const auto held = store.try_lock(saved.name, saved.hash);
  ASSERT_TRUE(held.has_value());
  // Rank 0's refusal (exit status 1) or rank 1's report of it (3), whichever the launcher sees first.
  const auto log = dir.path() / "job.log";
  const auto status = exit_status_within(start_train(dir.path() / "job.json", log, {"--nproc", "2"}), 120s);
  EXPECT_TRUE(status == 1 || status == 3) << read_log(log);
  const std::string output = read_log(log);
  EXPECT_NE(output.find("another job is training " + saved.name + "-" + saved.hash), std::string::npos)
      << output;
  EXPECT_NE(output.find("rank 1 of 2: rank 0 could not start: "), std::string::npos) << output;
  EXPECT_EQ(store.list().at(0).epoch, 1) << "nothing was trained";
}

/// Two workers launched as torchrun launches them, here by the test, with a timeout of `timeout`.
struct Workers {
  std::vector<pid_t> pids;
  std::vector<std::filesystem::path> logs;

  Workers(const std::filesystem::path& config, const std::string& timeout) {
    const std::string port = std::to_string(free_port());
    for (int rank = 0; rank < 2; ++rank) {
      logs.push_back(config.parent_path() / ("rank" + std::to_string(rank) + ".log"));
      pids.push_back(start_train(
          config, logs.back(), {},
          {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank), "WORLD_SIZE=2",
           "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port, "TORCHSYSTEM_DIST_TIMEOUT=" + timeout}));
    }
  }
  ~Workers() {
    for (const pid_t pid : pids) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
};

/// A long job of 2 workers, once it has saved an epoch.
void start_long_job(const TempDir& dir, std::optional<Workers>& workers, const std::string& timeout) {
  write_config(dir.path() / "long.json", small_config("weights", 100000, 0.0));
  workers.emplace(dir.path() / "long.json", timeout);
  const ts::CheckpointStore store(dir.path() / "weights");
  ASSERT_TRUE(wait_until([&] { return !store.list(true).empty(); }, 120s)) << read_log(workers->logs[0]);
}

/// After rank 0 failed: the last saved epoch is intact (every byte checked), and a new run resumes from it.
void expect_resumable(const TempDir& dir) {
  const ts::CheckpointStore store(dir.path() / "weights");
  const auto saved = store.list(false, nullptr, ts::CheckpointCheck::full);
  ASSERT_EQ(saved.size(), 1U);
  auto config = small_config("weights", 1, 0.0);
  write_config(dir.path() / "resume.json", config);
  const std::string resumed = train_to_end(dir.path() / "resume.json", {});
  EXPECT_NE(resumed.find("resuming from epoch " + std::to_string(saved[0].epoch)), std::string::npos)
      << resumed;
}

TEST(TrainProgramDistributed, ARankThatDiesMakesTheOtherFailAtItsNextExchange) {
  const TempDir dir;
  std::optional<Workers> workers;
  start_long_job(dir, workers, "30");
  ASSERT_EQ(kill(workers->pids[1], SIGKILL), 0);
  // Gloo sees the closed connection at once; the timeout bounds it in any case.
  const auto status = exit_status_within(workers->pids[0], 45s);
  const std::string log = read_log(workers->logs[0]);
  EXPECT_EQ(status, 3) << log;
  EXPECT_NE(log.find("torchsystem: rank 0 of 2: the process group failed while exchanging the "),
            std::string::npos)
      << log;
  expect_resumable(dir);
}

TEST(TrainProgramDistributed, ARankThatStopsAnsweringMakesTheOtherFailAfterTheTimeout) {
  const TempDir dir;
  std::optional<Workers> workers;
  start_long_job(dir, workers, "10");  // the rendezvous too: room for a slow start on a loaded machine
  ASSERT_EQ(kill(workers->pids[1], SIGSTOP), 0);  // alive, connected, silent
  const auto stopped = std::chrono::steady_clock::now();
  const auto status = exit_status_within(workers->pids[0], 60s);
  const std::string log = read_log(workers->logs[0]);
  EXPECT_EQ(status, 3) << log;
  EXPECT_GE(std::chrono::steady_clock::now() - stopped, 8s) << "it waited for the timeout";
  EXPECT_NE(log.find("did not answer within 10 s"), std::string::npos) << log;
  expect_resumable(dir);
}

/// The pids whose parent is `parent`.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    if (!std::getline(stat, text)) continue;
    // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
    const auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == parent) children.push_back(std::stoi(entry.path().filename()));
  }
  return children;
}

TEST(TrainProgramDistributed, TheLauncherPassesCtrlCOnAndEndsWhenAWorkerDies) {
  const TempDir dir;
  write_config(dir.path() / "long.json", small_config("weights", 100000, 0.0));
  const ts::CheckpointStore store(dir.path() / "weights");
  {
    const pid_t launcher =
        start_train(dir.path() / "long.json", dir.path() / "interrupted.log", {"--nproc", "2"});
    ASSERT_TRUE(wait_until([&] { return !store.list(true).empty(); }, 120s))
        << read_log(dir.path() / "interrupted.log");
    EXPECT_EQ(children_of(launcher).size(), 2U);
    kill(launcher, SIGINT);
    const auto status = exit_status_within(launcher, 60s);
    const std::string log = read_log(dir.path() / "interrupted.log");
    EXPECT_EQ(status, 130) << log;
    const std::smatch interrupted = [&] {
      std::smatch found;
      std::regex_search(
          log, found,
          std::regex(R"(interrupted during epoch (\d+): it is not saved; the checkpoint holds epoch (\d+))"));
      return found;
    }();
    ASSERT_FALSE(interrupted.empty()) << log;
    EXPECT_EQ(store.list().at(0).epoch, std::stoll(interrupted[2]));
  }
  const pid_t launcher = start_train(dir.path() / "long.json", dir.path() / "killed.log", {"--nproc", "2"});
  ASSERT_TRUE(wait_until([&] {
    return read_log(dir.path() / "killed.log").find("resuming from epoch") != std::string::npos;
  })) << read_log(dir.path() / "killed.log");
  std::vector<pid_t> workers = children_of(launcher);
  ASSERT_EQ(workers.size(), 2U);
  kill(std::max(workers[0], workers[1]), SIGKILL);  // the later one started: rank 1
  const auto status = exit_status_within(launcher, 60s);
  const std::string log = read_log(dir.path() / "killed.log");
  EXPECT_TRUE(status == 3 || status == 137) << log;
  EXPECT_NE(log.find("was killed by signal"), std::string::npos) << log;
  for (const pid_t worker : workers) EXPECT_NE(kill(worker, 0), 0) << "worker " << worker << " is gone";
}

}  // namespace distributed_test
