// What the `torchsystem` programs share: the command table runner, error reporting and input files.
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "torchsystem/error.hpp"

namespace torchsystem::cli {
namespace {

/// Why the output could not be written (`No space left on device` for a full disk), as stdio left errno.
std::string output_error() { return std::string("cannot write the output: ") + std::strerror(errno); }

/// -h or --help among a command's arguments, before a `--` that ends its options.
bool asks_for_help(std::span<const std::string_view> arguments) {
  for (const std::string_view argument : arguments) {
    if (argument == "--") return false;
    if (is_help_option(argument)) return true;
  }
  return false;
}

std::string program_usage(std::span<const Command> commands) {
  std::string usage =
      "usage: torchsystem <command> [options] [arguments]\n"
      "       torchsystem --help\n"
      "\n"
      "Commands:\n";
  for (const Command& command : commands) {
    usage += "  ";
    usage += command.name;
    usage.append(command.name.size() < 13 ? 13 - command.name.size() : 1, ' ');
    usage += command.summary;
    usage += '\n';
  }
  usage +=
      "\n"
      "Run 'torchsystem <command> --help' for the usage of a command. train, list, signature,\n"
      "create and serve take --plugin PATH (repeatable) to load a user's models; TORCHSYSTEM_PLUGINS,\n"
      "a colon-separated list, loads plugins for every command (docs/install.md).\n"
      "Exit status: 0 on success, 1 when the input data is bad, 2 when the command line is wrong.\n";
  return usage;
}

const Command* find_command(std::span<const Command> commands, std::string_view name) {
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

}  // namespace

std::uint64_t count_option(std::string_view option, std::string_view text, std::uint64_t minimum,
                           std::uint64_t maximum) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || text.front() == '-' || error != std::errc() || end != text.data() + text.size() ||
      value < minimum || value > maximum) {
    const std::string range = maximum == std::numeric_limits<std::uint64_t>::max()
                                  ? "of at least " + std::to_string(minimum)
                                  : "from " + std::to_string(minimum) + " to " + std::to_string(maximum);
    throw UsageError(std::string(option) + " takes a count " + range + ", not '" + std::string(text) + "'");
  }
  return value;
}

int run_commands(std::span<const Command> commands, std::span<const std::string_view> arguments) {
  if (arguments.empty()) {
    report("", "no command given");
    const std::string usage = program_usage(commands);
    std::fwrite(usage.data(), 1, usage.size(), stderr);
    return exit_usage;
  }
  if (is_help_option(arguments[0])) {
    write_all(stdout, program_usage(commands));
    return exit_ok;
  }
  const Command* command = find_command(commands, arguments[0]);
  if (command == nullptr) {
    report("",
           "unknown command '" + std::string(arguments[0]) + "'; run 'torchsystem --help' for the commands");
    return exit_usage;
  }
  const auto rest = arguments.subspan(1);
  if (command->usage != nullptr && asks_for_help(rest)) {
    write_all(stdout, command->usage());
    return exit_ok;
  }
  try {
    const int status = command->run(rest);
    if (std::fflush(stdout) != 0) throw std::runtime_error(output_error());
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

int run_main(std::span<const Command> commands, int argc, char** argv) {
  try {
    const std::vector<std::string_view> arguments(argv + (argc > 0 ? 1 : 0), argv + argc);
    return run_commands(commands, arguments);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torchsystem: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "torchsystem: unexpected error\n");
  }
  return exit_bad_data;
}

void write_all(std::FILE* stream, std::string_view text) {
  if (!text.empty() && std::fwrite(text.data(), 1, text.size(), stream) != text.size()) {
    throw std::runtime_error(output_error());
  }
}

InputFile open_input(std::string_view path) {
  InputFile input;
  if (path.empty() || path == "-") return input;
  input.display.assign("'").append(path).append("'");
  input.owned.reset(std::fopen(std::string(path).c_str(), "rb"));
  if (!input.owned) throw std::runtime_error("cannot open " + input.display + ": " + std::strerror(errno));
  input.stream = input.owned.get();
  return input;
}

std::string read_all(const InputFile& input) {
  std::string text;
  char block[1 << 16];
  for (std::size_t got = 0; (got = std::fread(block, 1, sizeof block, input.stream)) > 0;)
    text.append(block, got);
  if (std::ferror(input.stream)) {
    throw std::runtime_error("cannot read " + input.display + ": " + std::strerror(errno));
  }
  return text;
}

bool is_help_option(std::string_view argument) {
  return argument == "--help" || argument == "-h";
}

}  // namespace torchsystem::cli
