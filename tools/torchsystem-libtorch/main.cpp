// `torchsystem-libtorch`: the commands of the `torchsystem` program that need LibTorch (train, list,
// signature, create, checkpoints, serve), with plugins. `torchsystem` executes it in its own place for those
// commands, from libexec/torchsystem/; it can also be run directly.
#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "program.hpp"

namespace torchsystem::cli {
namespace {

constexpr Command commands[] = {
    with_function(train_summary, train_command, train_usage),
    with_function(list_summary, list_command, list_usage),
    with_function(signature_summary, signature_command, signature_usage),
    with_function(create_summary, create_command, create_usage),
    with_function(checkpoints_summary, checkpoints_command, checkpoints_usage),
    with_function(serve_summary, serve_command, serve_usage),
};

int run(int argc, char** argv) {
  const std::vector<std::string_view> arguments(argv + (argc > 0 ? 1 : 0), argv + argc);
  std::vector<std::string_view> rest;
  try {
    rest = take_plugin_options(arguments);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "torchsystem: %s\n", e.what());
    return exit_usage;
  }
  return run_commands(commands, rest);
}

}  // namespace
}  // namespace torchsystem::cli

int main(int argc, char** argv) {
  try {
    return torchsystem::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torchsystem: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "torchsystem: unexpected error\n");
  }
  return torchsystem::cli::exit_bad_data;
}
