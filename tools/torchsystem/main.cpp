// The `torchsystem` command-line program. `hash` runs here, on the core alone, so it starts in
// milliseconds; the catalog's commands need LibTorch (which takes about half a second to load) and run
// in the companion program `torchsystem-libtorch`, installed beside this one.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "command.hpp"

namespace torchsystem::cli {
namespace {

std::filesystem::path companion_program() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw std::runtime_error("cannot find this program's directory: " + error.message());
  return self.parent_path() / "torchsystem-libtorch";
}

/// Replaces this process with the companion program, running `command` with `arguments`.
[[noreturn]] void run_in_companion(std::string_view command, std::span<const std::string_view> arguments) {
  const std::string program = companion_program().string();
  std::vector<std::string> owned{"torchsystem", std::string(command)};
  for (const auto argument : arguments) owned.emplace_back(argument);
  std::vector<char*> argv;
  argv.reserve(owned.size() + 1);
  for (auto& argument : owned) argv.push_back(argument.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  ::execv(program.c_str(), argv.data());
  throw std::runtime_error("cannot run " + program + ": " + std::strerror(errno));
}

int list_in_companion(std::span<const std::string_view> arguments) {
  run_in_companion("list", arguments);
}
int signature_in_companion(std::span<const std::string_view> arguments) {
  run_in_companion("signature", arguments);
}
int create_in_companion(std::span<const std::string_view> arguments) {
  run_in_companion("create", arguments);
}
int checkpoints_in_companion(std::span<const std::string_view> arguments) {
  run_in_companion("checkpoints", arguments);
}

constexpr Command commands[] = {
    {"hash", "print the identity hash of a name and its arguments", hash_command},
    {"list", "list the catalog: LibTorch's modules, losses and optimizers", list_in_companion},
    {"signature", "show a catalog type's parameters", signature_in_companion},
    {"create", "build an object from a JSON configuration and print its identity", create_in_companion},
    {"checkpoints", "list the checkpoints of a store directory", checkpoints_in_companion},
};

}  // namespace
}  // namespace torchsystem::cli

int main(int argc, char** argv) {
  return torchsystem::cli::run_main(torchsystem::cli::commands, argc, argv);
}
