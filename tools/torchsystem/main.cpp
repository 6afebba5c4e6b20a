// The `torchsystem` command-line program: dispatches to one command per file (see command.hpp).
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "torchsystem/error.hpp"

namespace torchsystem::cli {
namespace {

constexpr Command commands[] = {
    {"hash", "print the identity hash of a name and its arguments", hash_command},
};

std::string program_usage() {
  std::string usage =
      "usage: torchsystem <command> [options] [arguments]\n"
      "       torchsystem --help\n"
      "\n"
      "Commands:\n";
  for (const Command& command : commands) {
    usage += "  ";
    usage += command.name;
    usage.append(command.name.size() < 10 ? 10 - command.name.size() : 1, ' ');
    usage += command.summary;
    usage += '\n';
  }
  usage +=
      "\n"
      "Run 'torchsystem <command> --help' for the usage of a command.\n"
      "Exit status: 0 on success, 1 when the input data is bad, 2 when the command line is wrong.\n";
  return usage;
}

const Command* find_command(std::string_view name) {
  for (const Command& command : commands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

void report(std::string_view context, std::string_view message) {
  std::string line = "torchsystem";
  if (!context.empty()) {
    line += ' ';
    line += context;
  }
  line += ": ";
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

int run(std::span<const std::string_view> arguments) {
  if (arguments.empty()) {
    report("", "no command given");
    const std::string usage = program_usage();
    std::fwrite(usage.data(), 1, usage.size(), stderr);
    return exit_usage;
  }
  if (is_help_option(arguments[0])) {
    write_all(stdout, program_usage());
    return exit_ok;
  }
  const Command* command = find_command(arguments[0]);
  if (command == nullptr) {
    report("",
           "unknown command '" + std::string(arguments[0]) + "'; run 'torchsystem --help' for the commands");
    return exit_usage;
  }
  try {
    const int status = command->run(arguments.subspan(1));
    if (std::fflush(stdout) != 0) throw std::runtime_error("cannot write the output");
    return status;
  } catch (const UsageError& e) {
    report(command->name, e.what());
    report(command->name, "run 'torchsystem " + std::string(command->name) + " --help' for its usage");
    return exit_usage;
  } catch (const torchsystem::Error& e) {
    report(command->name, e.what());
    return exit_bad_data;
  } catch (const std::exception& e) {
    report(command->name, e.what());
    return exit_bad_data;
  }
}

}  // namespace

void write_all(std::FILE* stream, std::string_view text) {
  if (!text.empty() && std::fwrite(text.data(), 1, text.size(), stream) != text.size()) {
    throw std::runtime_error("cannot write the output");
  }
}

bool is_help_option(std::string_view argument) {
  return argument == "--help" || argument == "-h";
}

}  // namespace torchsystem::cli

int main(int argc, char** argv) {
  try {
    const std::vector<std::string_view> arguments(argv + (argc > 0 ? 1 : 0), argv + argc);
    return torchsystem::cli::run(arguments);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torchsystem: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "torchsystem: unexpected error\n");
  }
  return torchsystem::cli::exit_bad_data;
}
