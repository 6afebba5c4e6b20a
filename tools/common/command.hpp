// The commands of the `torchsystem` programs and what they share.
//
// Each program's main.cpp holds its command table; command.cpp runs a table (dispatch, error handling,
// exit statuses). Each command lives in its own file and only parses its own arguments, so adding a
// command is one new file plus one row in a table.
#pragma once

#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace torchsystem::cli {

/// Exit statuses: 1 when the input data is bad, 2 when the command line itself is wrong.
inline constexpr int exit_ok = 0;
inline constexpr int exit_bad_data = 1;
inline constexpr int exit_usage = 2;

/// A command line that does not fit the command's usage; main prints it with a pointer to --help.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A command receives its arguments without the program and command names, and returns the exit status.
using CommandFunction = int (*)(std::span<const std::string_view> arguments);

struct Command {
  std::string_view name;
  std::string_view summary;
  CommandFunction run;
  /// What `torchsystem NAME --help` prints; run_commands answers -h and --help (before a `--`) with it,
  /// so no command handles them itself. Null for a command another program runs (it answers there).
  std::string_view (*usage)() = nullptr;
};

/// The commands that need LibTorch, as both programs' tables describe them: `torchsystem` runs them in
/// its companion, `torchsystem-libtorch`, which implements them.
inline constexpr Command train_summary{
    "train", "train a model from a JSON configuration, resuming from its checkpoint", nullptr};
inline constexpr Command list_summary{
    "list", "list the plugins' models and the catalog (modules, losses, optimizers)", nullptr};
inline constexpr Command signature_summary{"signature", "show a registered type's parameters", nullptr};
inline constexpr Command create_summary{
    "create", "build an object from a JSON configuration and print its identity", nullptr};
inline constexpr Command checkpoints_summary{"checkpoints", "list the checkpoints of a store directory",
                                             nullptr};
inline constexpr Command serve_summary{
    "serve", "serve the registry, checkpoints and inference over HTTP (docs/serving.md)", nullptr};

/// `summary` with its function (and usage) set.
constexpr Command with_function(Command summary, CommandFunction run, std::string_view (*usage)() = nullptr) {
  summary.run = run;
  summary.usage = usage;
  return summary;
}

// Each command's usage text, beside its implementation.
std::string_view hash_usage();
std::string_view train_usage();
std::string_view list_usage();
std::string_view signature_usage();
std::string_view create_usage();
std::string_view checkpoints_usage();
std::string_view serve_usage();

int hash_command(std::span<const std::string_view> arguments);
int train_command(std::span<const std::string_view> arguments);
int list_command(std::span<const std::string_view> arguments);
int signature_command(std::span<const std::string_view> arguments);
int create_command(std::span<const std::string_view> arguments);
int checkpoints_command(std::span<const std::string_view> arguments);
int serve_command(std::span<const std::string_view> arguments);

/// An input named on the command line: a file, or standard input for "-" (or an empty path).
struct InputFile {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> owned{nullptr, &std::fclose};
  std::FILE* stream = stdin;
  std::string display = "standard input";  ///< for messages: 'path' or standard input
};
/// Opens `path` for reading; throws std::runtime_error naming it when it cannot be opened.
InputFile open_input(std::string_view path);
/// Reads the whole of `input`; throws std::runtime_error naming it on a read error.
std::string read_all(const InputFile& input);

/// An option's value as a count from `minimum` to `maximum`: decimal digits only. Throws UsageError naming
/// the option, the range and the text otherwise. Every count of every command is read here.
std::uint64_t count_option(std::string_view option, std::string_view text, std::uint64_t minimum,
                           std::uint64_t maximum = std::numeric_limits<std::uint64_t>::max());

/// Runs the command `arguments[0]` of `commands` with the rest; returns the exit status.
int run_commands(std::span<const Command> commands, std::span<const std::string_view> arguments);
/// main() of a program: runs its command table on the command line, reporting any escaped exception.
int run_main(std::span<const Command> commands, int argc, char** argv);

/// Writes all of `text` to `stream`; throws std::runtime_error when the stream refuses it.
void write_all(std::FILE* stream, std::string_view text);

/// True for --help and -h.
bool is_help_option(std::string_view argument);

}  // namespace torchsystem::cli
