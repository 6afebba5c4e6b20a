// `torchsystem train CONFIG`: the training job (docs/training.md).
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "launch.hpp"
#include "program.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/training/distributed.hpp"
#include "torchsystem/training/training_job.hpp"
#include "train_output.hpp"

namespace torchsystem::cli {
namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int /*signal*/) {
  interrupted.store(true);
}

/// Sets the flag on the first Ctrl-C (or SIGTERM); a second one ends the process at once (SA_RESETHAND).
class InterruptHandler {
 public:
  InterruptHandler() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_);
    sigaction(SIGTERM, &action, &previous_term_);
  }
  ~InterruptHandler() {
    sigaction(SIGINT, &previous_, nullptr);
    sigaction(SIGTERM, &previous_term_, nullptr);
  }
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

 private:
  struct sigaction previous_ {};
  struct sigaction previous_term_ {};
};

constexpr std::string_view usage_text =
    R"(usage: torchsystem train CONFIG [--wait] [--nproc N] [--plugin PATH]...

Trains the model CONFIG names, saving a checkpoint under the model's identity
(<store>/<name>-<hash>.pth, in torch.save's format) after every epoch; run again, it resumes from the
last saved epoch and trains `epochs` more. Ctrl-C stops at the next batch, losing only the epoch in
progress. CONFIG's "plugins" (names or paths relative to CONFIG) are loaded before the model is built.
One job trains an identity at a time: the job holds <store>/<name>-<hash>.lock until it ends, and a
second one fails at once, naming the holder.

Data parallel: launched as torchrun launches workers (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT in the environment), each process trains on its shard of every batch over LibTorch's
Gloo process group; rank 0 holds the lock, saves and prints. --nproc N starts N such workers here.
TORCHSYSTEM_DIST_TIMEOUT (seconds, default 300) bounds every wait on another rank. See docs/training.md.

Options:
  --wait          when another job trains the same identity, wait for it to end, then resume from
                  what it saved (Ctrl-C ends the wait)
  --nproc N       train with N local processes (1 to 64), each with its share of every batch
  --plugin PATH   load a plugin first (see `torchsystem list --help`); may be repeated
  -h, --help      print this help

Exit status: 0 when done, 1 for a bad configuration, plugin or checkpoint, 2 for a bad command line,
3 when a rank failed or stopped answering, 130 when interrupted.

Examples:
  $ torchsystem train examples/configs/seed.json
  $ torchsystem train examples/configs/seed.json --nproc 2
)";

constexpr int exit_rank_failed = 3;

/// Ends a rank's process at once with `status`, its output flushed. The process group is never
/// destroyed: c10d's teardown of a Gloo group and its store can wait forever on a peer that is gone or
/// ending at the same moment (seen here under load, after the job had finished), and nothing is left for
/// it to do: the checkpoint is saved and the identity's lock released before this.
[[noreturn]] void end_rank(int status) {
  std::cout.flush();
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(status);
}

/// Trains as rank `options.rank` of a job of several processes; never returns (end_rank).
[[noreturn]] void train_as_rank(const TrainingConfig& config, const DistributedOptions& options,
                                bool in_place) {
  try {
    auto& group = *new ProcessGroup(options);  // never destroyed: see end_rank
    // Across machines each rank's output is its own: its first line says where it trains (rank 0's
    // data line says it too).
    if (options.rank != 0 && !options.on_one_machine())
      std::cout << "rank " << options.rank << " of " << options.world_size << " on " << group.address()
                << "\n";
    TrainOutput output(std::cout, in_place);
    const TrainingReport report = train(config, Registries(program_models()), group, &output, &interrupted);
    if (report.interrupted) end_rank(130);
    if (options.rank == 0) {
      std::cout << "done: " << report.history.size() << " epochs in all under " << report.identity << " ("
                << options.world_size << " processes)\n";
    }
    end_rank(exit_ok);
  } catch (const DistributedError& error) {
    std::fprintf(stderr, "torchsystem: %s\n", error.what());
    end_rank(exit_rank_failed);
  } catch (const std::exception& error) {
    // Every rank meets a bad configuration alike: rank 0 says it, the others say where they stopped.
    if (options.rank == 0) {
      std::fprintf(stderr, "torchsystem train: %s\n", error.what());
    } else {
      std::fprintf(stderr, "torchsystem: rank %d of %d: %s\n", options.rank, options.world_size,
                   error.what());
    }
    end_rank(exit_bad_data);
  }
}

/// Trains as one rank of the job the environment describes, or as the only process.
int run_training(const TrainingConfig& config) {
  const InterruptHandler handler;
  const bool in_place = isatty(STDOUT_FILENO) != 0;
  // Into a file or a pipe, each line as it is written: a log followed as the job runs, and the lines
  // before a crash or a kill, are not lost in a buffer.
  if (!in_place) std::cout << std::unitbuf;
  const auto options = DistributedOptions::from_environment();
  if (!options || options->world_size == 1) {
    TrainOutput output(std::cout, in_place);
    const TrainingReport report = train(config, Registries(program_models()), &output, &interrupted);
    if (report.interrupted) return 130;
    std::cout << "done: " << report.history.size() << " epochs in all under " << report.identity << "\n";
    return exit_ok;
  }
  train_as_rank(config, *options, in_place);
}

}  // namespace

int train_command(std::span<const std::string_view> arguments) {
  bool wait = false;
  int processes = 0;
  std::vector<std::string_view> positional;
  for (std::size_t index = 0; index < arguments.size(); ++index) {
    const std::string_view argument = arguments[index];
    if (argument == "--wait") {
      wait = true;
    } else if (argument == "--nproc") {
      if (index + 1 == arguments.size()) throw UsageError("--nproc needs a count");
      processes = static_cast<int>(count_option("--nproc", arguments[++index], 1, 64));
    } else if (argument.starts_with("--nproc=")) {
      processes = static_cast<int>(count_option("--nproc", argument.substr(8), 1, 64));
    } else {
      positional.push_back(argument);
    }
  }
  if (positional.size() != 1 || (positional[0].size() > 1 && positional[0].front() == '-'))
    throw UsageError("train takes one CONFIG file");
  const InputFile input = open_input(positional[0]);
  const std::filesystem::path path(positional[0]);
  TrainingConfig config =
      TrainingConfig::from_json(parse_json(read_all(input)), std::filesystem::absolute(path).parent_path());
  config.wait_for_lock = wait;
  load_plugins(config.plugins, plugin_search(config.base));
  if (processes == 0) return run_training(config);
  // The configuration and its plugins were checked above, once, before any worker starts.
  if (std::getenv("WORLD_SIZE") != nullptr)
    throw UsageError("--nproc starts workers itself; this process is already one (WORLD_SIZE is set)");
  return launch_workers(processes);
}

std::string_view train_usage() {
  return usage_text;
}

}  // namespace torchsystem::cli
