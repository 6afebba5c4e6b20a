// The `torchsystem` command-line program. `hash` runs here, on the core alone, so it starts in
// milliseconds; the commands that need LibTorch (which takes about half a second to load) run in the
// companion program `torchsystem-libtorch`, installed in libexec/torchsystem/, which this one executes
// in its own place: a user sees one program.
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

/// The companion, at the same place relative to this program in the build tree and in an installation.
std::filesystem::path companion_program() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw std::runtime_error("cannot find this program's directory: " + error.message());
  return (self.parent_path() / TORCHSYSTEM_COMPANION).lexically_normal();
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
  if (errno == ENOENT) {
    throw std::runtime_error("'" + std::string(command) +
                             "' needs torchsystem's LibTorch layer, which this installation lacks (no " +
                             program + ")");
  }
  throw std::runtime_error("cannot run " + program + ": " + std::strerror(errno));
}

template <const Command& summary>
int in_companion(std::span<const std::string_view> arguments) {
  run_in_companion(summary.name, arguments);
}

constexpr Command commands[] = {
    {"hash", "print the identity hash of a name and its arguments", hash_command, hash_usage},
    with_function(train_summary, in_companion<train_summary>),
    with_function(list_summary, in_companion<list_summary>),
    with_function(signature_summary, in_companion<signature_summary>),
    with_function(create_summary, in_companion<create_summary>),
    with_function(checkpoints_summary, in_companion<checkpoints_summary>),
    with_function(serve_summary, in_companion<serve_summary>),
};

}  // namespace
}  // namespace torchsystem::cli

int main(int argc, char** argv) {
  return torchsystem::cli::run_main(torchsystem::cli::commands, argc, argv);
}
