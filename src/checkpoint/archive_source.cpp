// A recognizer for the TorchScript subset of a module of attributes (archive_source.hpp). It reads one
// line at a time and accepts only the statement forms LibTorch prints for such modules; a line that is
// anything else is the fault, so LibTorch's compiler only ever sees those forms.
#include "archive_source.hpp"

#include <cctype>
#include <string>
#include <string_view>

namespace torchsystem::checkpoint_detail {
namespace {

/// Reads one line from its start; every `take_*` advances past what it matched and returns false,
/// leaving the position unspecified, when the text there is not of that form.
class LineReader {
 public:
  explicit LineReader(std::string_view line) : line_(line) {}

  bool at_end() const { return position_ == line_.size(); }

  bool take(std::string_view literal) {
    if (!line_.substr(position_).starts_with(literal)) return false;
    position_ += literal.size();
    return true;
  }

  bool take_identifier() {
    const std::size_t start = position_;
    while (position_ < line_.size() && is_identifier_char(line_[position_])) ++position_;
    return position_ > start && std::isdigit(static_cast<unsigned char>(line_[start])) == 0;
  }

  /// A double-quoted string with backslash escapes, as LibTorch prints attribute names.
  bool take_string() {
    if (!take("\"")) return false;
    while (position_ < line_.size()) {
      const char c = line_[position_++];
      if (c == '"') return true;
      if (c == '\\' && position_++ == line_.size()) return false;
    }
    return false;
  }

  /// `Name`, `a.b.Name`, `Name[Type, ...]` or, inside brackets, `()` (the empty tuple).
  bool take_type(int depth = 1) {
    if (depth > max_type_depth) return false;
    if (depth > 1 && take("()")) return true;
    if (!take_dotted_name()) return false;
    if (!take("[")) return true;
    do {
      if (!take_type(depth + 1)) return false;
    } while (take(", "));
    return take("]");
  }

  /// `[` then `"name", ` any number of times, then `]`.
  bool take_string_list() {
    if (!take("[")) return false;
    while (!take("]")) {
      if (!take_string() || !take(", ")) return false;
    }
    return true;
  }

 private:
  static bool is_identifier_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  }

  bool take_dotted_name() {
    do {
      if (!take_identifier()) return false;
    } while (take("."));
    return true;
  }

  std::string_view line_;
  std::size_t position_ = 0;
};

bool is_class_header(std::string_view line) {
  LineReader reader(line);
  return reader.take("class ") && reader.take_identifier() && reader.take("(Module):") && reader.at_end();
}

bool is_class_statement(std::string_view line) {
  LineReader reader(line);
  if (!reader.take("  ")) return false;
  if (reader.take("__parameters__ = ") || reader.take("__buffers__ = "))
    return reader.take_string_list() && reader.at_end();
  if (reader.take("__annotations__")) {
    if (reader.take(" = []")) return reader.at_end();
    return reader.take("[") && reader.take_string() && reader.take("] = ") && reader.take_type() &&
           reader.at_end();
  }
  return reader.take_identifier() && reader.take(" : ") && reader.take_type() && reader.at_end();
}

std::string line_fault(std::size_t number, std::string_view expected) {
  return "line " + std::to_string(number) + " of its TorchScript source is not " + std::string(expected);
}

}  // namespace

std::string attribute_source_fault(std::string_view source) {
  bool in_class = false;
  std::size_t number = 0;
  while (!source.empty()) {
    const std::size_t end = source.find('\n');
    const std::string_view line = source.substr(0, end);
    source.remove_prefix(end == std::string_view::npos ? source.size() : end + 1);
    ++number;
    if (line.empty()) continue;
    if (is_class_header(line)) {
      in_class = true;
      continue;
    }
    if (!in_class) return line_fault(number, "a class of attributes (`class Name(Module):`)");
    if (!is_class_statement(line)) return line_fault(number, "an attribute declaration of a module");
  }
  return {};
}

}  // namespace torchsystem::checkpoint_detail
