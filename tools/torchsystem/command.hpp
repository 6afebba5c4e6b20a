// The commands of the `torchsystem` program and what they share.
//
// main.cpp holds the command table and the error handling; each command lives in its own file and only
// parses its own arguments, so adding a command is one new file plus one row in the table.
#pragma once

#include <cstdio>
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
};

int hash_command(std::span<const std::string_view> arguments);

/// Writes all of `text` to `stream`; throws std::runtime_error when the stream refuses it.
void write_all(std::FILE* stream, std::string_view text);

/// True for --help and -h.
bool is_help_option(std::string_view argument);

}  // namespace torchsystem::cli
