// `torchsystem hash`: the identity hash of a name and its arguments, one at a time or a JSON-lines batch.
#include <cstdio>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "jsonl_hasher.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"

namespace torchsystem::cli {
namespace {

constexpr std::string_view usage_text = R"(usage: torchsystem hash [--show] [--] NAME [ARGUMENTS_JSON]
       torchsystem hash --jsonl [FILE]

Prints the identity hash of an entity: the lowercase hexadecimal MD5 of NAME followed by Python's
json.dumps(ARGUMENTS), byte for byte the hash of the Python reference.

Arguments:
  NAME             the registered name, such as MLP (UTF-8)
  ARGUMENTS_JSON   the arguments as one JSON object; {} when absent. 2 and 2.0 differ, as in Python.

Options:
  --show           print the identity text after the hash: line 1 is the hash, and the rest of the
                   output without its final newline is exactly the hashed text, NAME + json.dumps(...)
                   (it spans several lines only when NAME contains a line break)
  --jsonl [FILE]   hash a batch: read FILE (standard input when FILE is absent or -), one JSON object a
                   line, {"name": NAME, "arguments": {...}} with "arguments" optional ({} when absent)
                   and other fields ignored; CRLF line ends are accepted. Prints one line per input
                   line, in order: the hash, or "error: REASON" for a line that cannot be hashed.
  --               ends the options, for a NAME that starts with -
  -h, --help       print this help

Exit status: 0 on success; 1 when the input is bad (with --jsonl: when any line failed); 2 when the
command line is wrong.

Example:
  $ torchsystem hash Model '{"x": 1, "y": 2.0, "z": "3"}'
  b12461be073bff9f5847f3f423767aa2
)";

const Json& empty_object() {
  static const Json empty = Json::object();
  return empty;
}

// ---------------------------------------------------------------------------------------------------
// One name.

int hash_one(std::string_view name, std::optional<std::string_view> arguments_text, bool show) {
  Json parsed;
  if (arguments_text) {
    try {
      parsed = parse_json(*arguments_text);
    } catch (const JsonError& e) {
      throw JsonError(std::string("cannot read ARGUMENTS_JSON: ") + e.what());
    }
    if (!parsed.is_object()) {
      throw JsonError("ARGUMENTS_JSON must be a JSON object such as '{\"x\": 1}', got " +
                      std::string(describe_type(parsed)));
    }
  }
  const Json& arguments = arguments_text ? parsed : empty_object();
  const std::string text = identity_text(name, arguments);
  std::string out = md5_hex(text);
  out += '\n';
  if (show) {
    out += text;
    out += '\n';
  }
  write_all(stdout, out);
  return exit_ok;
}

// ---------------------------------------------------------------------------------------------------
// A JSON-lines batch.

int hash_jsonl(std::string_view path) {
  const InputFile file = open_input(path);
  const JsonlSummary summary = hash_jsonl_stream(file.stream, file.display, jsonl_block_size,
                                                 [](std::string_view out) { write_all(stdout, out); });
  if (summary.failed == 0) return exit_ok;
  std::string message = "torchsystem hash: " + std::to_string(summary.failed) + " of " +
                        std::to_string(summary.lines) + " lines of " + file.display +
                        " could not be hashed (first: line " + std::to_string(summary.first_failed) + ")\n";
  std::fwrite(message.data(), 1, message.size(), stderr);
  return exit_bad_data;
}

}  // namespace

int hash_command(std::span<const std::string_view> arguments) {
  bool show = false;
  bool jsonl = false;
  std::vector<std::string_view> positional;
  bool options_ended = false;
  for (const std::string_view argument : arguments) {
    if (options_ended || argument.size() < 2 || argument[0] != '-') {
      positional.push_back(argument);
    } else if (argument == "--") {
      options_ended = true;
    } else if (argument == "--show") {
      show = true;
    } else if (argument == "--jsonl") {
      jsonl = true;
    } else {
      throw UsageError("unknown option '" + std::string(argument) + "'");
    }
  }

  if (jsonl) {
    if (show) throw UsageError("--show cannot be combined with --jsonl");
    if (positional.size() > 1) throw UsageError("--jsonl takes at most one FILE");
    return hash_jsonl(positional.empty() ? std::string_view() : positional[0]);
  }
  if (positional.empty()) throw UsageError("missing NAME");
  if (positional.size() > 2) {
    throw UsageError("too many arguments; quote ARGUMENTS_JSON as one argument, such as '{\"x\": 1}'");
  }
  return hash_one(positional[0],
                  positional.size() == 2 ? std::optional<std::string_view>(positional[1]) : std::nullopt,
                  show);
}

std::string_view hash_usage() {
  return usage_text;
}

}  // namespace torchsystem::cli
