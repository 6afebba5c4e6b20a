// `torchsystem hash`: the identity hash of a name and its arguments, one at a time or a JSON-lines batch.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"

namespace torchsystem::cli {
namespace {

constexpr std::string_view usage = R"(usage: torchsystem hash [--show] [--] NAME [ARGUMENTS_JSON]
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

std::string_view describe_type(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a float";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    default:
      return "a non-JSON value";
  }
}

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

class BatchHasher {
 public:
  void line(std::string_view text) {
    ++lines_;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    try {
      hash(text);
    } catch (const Error& e) {
      out_ += "error: ";
      out_ += e.what();
      out_ += '\n';
      if (failed_++ == 0) first_failed_ = lines_;
    }
    // Flushing in large pieces keeps memory bounded without paying for a write per line.
    if (out_.size() >= flush_size) flush();
  }

  void flush() {
    write_all(stdout, out_);
    out_.clear();
  }

  std::size_t lines() const { return lines_; }
  std::size_t failed() const { return failed_; }
  std::size_t first_failed() const { return first_failed_; }

 private:
  static constexpr std::size_t flush_size = std::size_t{1} << 20;

  void hash(std::string_view text) {
    if (text.empty()) throw JsonError("empty line; expected a JSON object with a \"name\"");
    const Json document = parse_json(text);
    if (!document.is_object()) {
      throw JsonError("expected a JSON object with a \"name\", got " + std::string(describe_type(document)));
    }
    const auto name = document.find("name");
    if (name == document.end()) throw JsonError("missing \"name\"");
    if (!name->is_string())
      throw JsonError("\"name\" must be a string, got " + std::string(describe_type(*name)));
    const auto arguments = document.find("arguments");
    const bool has_arguments = arguments != document.end();
    if (has_arguments && !arguments->is_object()) {
      throw JsonError("\"arguments\" must be a JSON object, got " + std::string(describe_type(*arguments)));
    }
    out_ += identity_hash(name->get_ref<const std::string&>(), has_arguments ? *arguments : empty_object());
    out_ += '\n';
  }

  std::string out_;
  std::size_t lines_ = 0;
  std::size_t failed_ = 0;
  std::size_t first_failed_ = 0;
};

int hash_jsonl(std::string_view path) {
  const InputFile file = open_input(path);
  std::FILE* input = file.stream;
  const std::string& display = file.display;

  // Reads in large blocks and hashes every complete line in a block; only a partial last line is kept
  // for the next block, so memory stays bounded by the longest line.
  constexpr std::size_t block = std::size_t{1} << 20;
  BatchHasher hasher;
  std::string buffer;
  for (;;) {
    const std::size_t kept = buffer.size();
    buffer.resize(kept + block);
    const std::size_t got = std::fread(buffer.data() + kept, 1, block, input);
    buffer.resize(kept + got);
    if (std::ferror(input)) throw std::runtime_error("cannot read " + display + ": " + std::strerror(errno));
    const bool at_end = got < block;

    std::size_t start = 0;
    for (std::size_t newline = 0; (newline = buffer.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      hasher.line(std::string_view(buffer).substr(start, newline - start));
    }
    buffer.erase(0, start);
    if (at_end) {
      if (!buffer.empty()) hasher.line(buffer);  // a last line without a newline
      break;
    }
  }
  hasher.flush();

  if (hasher.failed() == 0) return exit_ok;
  std::string summary = "torchsystem hash: " + std::to_string(hasher.failed()) + " of " +
                        std::to_string(hasher.lines()) + " lines of " + display +
                        " could not be hashed (first: line " + std::to_string(hasher.first_failed()) + ")\n";
  std::fwrite(summary.data(), 1, summary.size(), stderr);
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
    } else if (is_help_option(argument)) {
      write_all(stdout, usage);
      return exit_ok;
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

}  // namespace torchsystem::cli
