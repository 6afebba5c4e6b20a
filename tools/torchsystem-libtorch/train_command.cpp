// `torchsystem train CONFIG`: the training job (docs/training.md).
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "program.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/training/training_job.hpp"

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

constexpr std::string_view train_usage = R"(usage: torchsystem train CONFIG [--wait] [--plugin PATH]...

Trains the model CONFIG names, saving a checkpoint under the model's identity
(<store>/<name>-<hash>.pth, in torch.save's format) after every epoch; run again, it resumes from the
last saved epoch and trains `epochs` more. Ctrl-C stops at the next batch, losing only the epoch in
progress. CONFIG's "plugins" (names or paths relative to CONFIG) are loaded before the model is built.
One job trains an identity at a time: the job holds <store>/<name>-<hash>.lock until it ends, and a
second one fails at once, naming the holder. See docs/training.md.

Options:
  --wait          when another job trains the same identity, wait for it to end, then resume from
                  what it saved (Ctrl-C ends the wait)
  --plugin PATH   load a plugin first (see `torchsystem list --help`); may be repeated
  -h, --help      print this help

Exit status: 0 when done, 1 for a bad configuration, plugin or checkpoint, 2 for a bad command line,
130 when interrupted.

Example:
  $ torchsystem train examples/configs/seed.json
)";

}  // namespace

int train_command(std::span<const std::string_view> arguments) {
  for (const auto argument : arguments) {
    if (is_help_option(argument)) {
      write_all(stdout, train_usage);
      return exit_ok;
    }
  }
  bool wait = false;
  std::vector<std::string_view> positional;
  for (const auto argument : arguments) {
    if (argument == "--wait") {
      wait = true;
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

  const InterruptHandler handler;
  const TrainingReport report =
      train(config, program_models(), std::cout, &interrupted, isatty(STDOUT_FILENO) != 0);
  if (report.interrupted) return 130;
  std::cout << "done: " << report.history.size() << " epochs in all under " << report.identity << "\n";
  return exit_ok;
}

}  // namespace torchsystem::cli
