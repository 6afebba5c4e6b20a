// What the training job's tests share: a small job's configuration, the seed's models, and real
// `torchsystem train` processes, started with their output in a file, watched and reaped.
#pragma once

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "seed_models.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch.hpp"

namespace job_support {

namespace ts = torchsystem;

inline const ts::Registry<torch::nn::Module>& models() {
  static const auto* registry = [] {
    auto* built = new ts::Registry<torch::nn::Module>("models");
    seed::register_seed_models(*built);
    built->include(ts::torch_catalog().modules);
    return built;
  }();
  return *registry;
}

/// A small job: a 32-input MLP on 600 samples, fast enough for a unit test.
inline ts::Json small_config(const std::filesystem::path& store, std::int64_t epochs, double dropout = 0.1) {
  return ts::parse_json(R"({
    "model": {"name": "MLP", "arguments": {"input_size": 32, "hidden_size": 16, "output_size": 4,
                                             "dropout": )" +
                        std::to_string(dropout) + R"(, "activation": "ReLU"}},
    "criterion": {"name": "CrossEntropyLoss"},
    "optimizer": {"name": "Adam", "arguments": {"lr": 0.01}},
    "epochs": )" + std::to_string(epochs) +
                        R"(, "batch_size": 32, "seed": 7, "store": ")" + store.string() + R"(",
    "data": {"features": 32, "classes": 4, "train_samples": 600, "test_samples": 200, "separation": 0.5}})");
}

/// Writes `config` for the program, which knows the seed's models through their plugin.
inline void write_config(const std::filesystem::path& path, ts::Json config) {
  config["plugins"] = ts::Json::array({"seed"});
  std::ofstream(path) << ts::dumps(config);
}

/// Starts `torchsystem train CONFIG [extra...]` with its standard output and error in `log`, and
/// `environment` ("NAME=value" each) added to the test's own.
inline pid_t start_train(const std::filesystem::path& config, const std::filesystem::path& log,
                         const std::vector<std::string>& extra = {},
                         const std::vector<std::string>& environment = {}) {
  std::vector<std::string> arguments{"torchsystem", "train", config.string()};
  arguments.insert(arguments.end(), extra.begin(), extra.end());
  const pid_t child = fork();
  if (child == 0) {
    if (!freopen(log.c_str(), "w", stdout) || dup2(fileno(stdout), STDERR_FILENO) < 0) _exit(126);
    for (const auto& variable : environment) putenv(const_cast<char*>(variable.c_str()));
    std::vector<char*> argv;
    for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    execv(TORCHSYSTEM_CLI, argv.data());
    _exit(127);
  }
  return child;
}

inline std::string read_log(const std::filesystem::path& log) {
  std::ifstream in(log);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Waits until `ready` holds, at most `limit`.
inline bool wait_until(const std::function<bool()>& ready,
                       std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

/// The exit status of a child; -1 when a signal killed it, -2 when it is not a child.
inline int exit_status(pid_t child) {
  int status = 0;
  if (waitpid(child, &status, 0) != child) return -2;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The exit status of a child that ends within `limit` (-1 for a signal); nullopt when it does not, and
/// it is then killed and reaped, so a test that fails leaves no process behind.
inline std::optional<int> exit_status_within(pid_t child, std::chrono::seconds limit) {
  int status = 0;
  pid_t reaped = 0;
  wait_until([&] { return (reaped = waitpid(child, &status, WNOHANG)) != 0; }, limit);
  if (reaped == child) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (reaped == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  return std::nullopt;
}

}  // namespace job_support
