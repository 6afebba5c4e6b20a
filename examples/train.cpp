// The training job: trains the model a JSON configuration names (the seed's MLP or GLU, or a catalog
// type), saves a checkpoint under the model's identity after every epoch, and resumes when run again.
//
//   build/bin/train examples/configs/seed.json
//
// Ctrl-C stops at the next batch; the epoch in progress is not saved, every finished one is.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "seed_models.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch.hpp"
#include "torchsystem/training_job.hpp"

namespace ts = torchsystem;

namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) {
  interrupted.store(true);
}

/// Sets the flag on the first Ctrl-C; a second one ends the process at once (SA_RESETHAND).
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

constexpr const char* usage =
    "usage: train CONFIG\n"
    "\n"
    "Trains the model CONFIG names on a synthetic classification task, saving a checkpoint under the\n"
    "model's identity (<store>/<name>-<hash>.pt) after every epoch; run again, it resumes from the last\n"
    "saved epoch and trains `epochs` more. Ctrl-C stops at the next batch, losing only the epoch in\n"
    "progress. See docs/training.md.\n"
    "\n"
    "Exit status: 0 when done, 1 for a bad configuration or checkpoint, 2 for a bad command line,\n"
    "130 when interrupted.\n";

int run(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::cerr << "train: cannot open '" << path.string() << "'\n";
    return 1;
  }
  std::ostringstream text;
  text << file.rdbuf();
  const ts::TrainingConfig config = ts::TrainingConfig::from_json(
      ts::parse_json(text.str()), std::filesystem::absolute(path).parent_path());

  ts::Registry<torch::nn::Module> models("models");
  seed::register_seed_models(models);
  models.include(ts::torch_catalog().modules);

  const InterruptHandler handler;
  const ts::TrainingReport report =
      ts::train(config, models, std::cout, &interrupted, isatty(STDOUT_FILENO) != 0);
  if (report.interrupted) return 130;
  std::cout << "done: " << report.history.size() << " epochs in all under " << report.identity << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << usage;
    return 0;
  }
  if (argc != 2) {
    std::cerr << usage;
    return 2;
  }
  try {
    return run(argv[1]);
  } catch (const std::exception& error) {
    std::cerr << "train: " << error.what() << "\n";
    return 1;
  }
}
