// The `--jsonl` batch reader: blocks, line splitting and per-line hashing (see jsonl_hasher.hpp).
#include "jsonl_hasher.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"

namespace torchsystem::cli {
namespace {

const Json& empty_object() {
  static const Json empty = Json::object();
  return empty;
}

class BatchHasher {
 public:
  explicit BatchHasher(const std::function<void(std::string_view)>& write) : write_(write) {}

  void line(std::string_view text) {
    ++summary_.lines;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    try {
      hash(text);
    } catch (const Error& e) {
      out_ += "error: ";
      out_ += e.what();
      out_ += '\n';
      if (summary_.failed++ == 0) summary_.first_failed = summary_.lines;
    }
    // Flushing in large pieces keeps memory bounded without paying for a write per line.
    if (out_.size() >= flush_size) flush();
  }

  void flush() {
    if (!out_.empty()) write_(out_);
    out_.clear();
  }

  const JsonlSummary& summary() const { return summary_; }

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

  const std::function<void(std::string_view)>& write_;
  std::string out_;
  JsonlSummary summary_;
};

}  // namespace

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

JsonlSummary hash_jsonl_stream(std::FILE* input, std::string_view display, std::size_t block_size,
                               const std::function<void(std::string_view)>& write) {
  // Reads in blocks and hashes every complete line in a block; only a partial last line is kept for the
  // next block, so memory stays bounded by the longest line.
  const std::size_t block = std::max<std::size_t>(block_size, 1);
  BatchHasher hasher(write);
  std::string buffer;
  for (;;) {
    const std::size_t kept = buffer.size();
    buffer.resize(kept + block);
    const std::size_t got = std::fread(buffer.data() + kept, 1, block, input);
    buffer.resize(kept + got);
    if (std::ferror(input))
      throw std::runtime_error("cannot read " + std::string(display) + ": " + std::strerror(errno));
    const bool at_end = got < block;

    // Only the bytes read now can hold a newline not yet seen: the kept part has none.
    std::size_t start = 0;
    for (std::size_t newline = 0; (newline = buffer.find('\n', std::max(start, kept))) != std::string::npos;
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
  return hasher.summary();
}

}  // namespace torchsystem::cli
