#include "torchsystem/json_reader.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"

namespace torchsystem {
namespace {

// nlohmann's SAX callbacks do not say where in the text they are. This iterator records the address of
// every byte the lexer reads, so a refusal raised in a callback (too deep, integer too large) can still
// name its byte offset.
class TrackingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator(const char* position, const char** last_read)
      : position_(position), last_read_(last_read) {}

  const char& operator*() const {
    *last_read_ = position_;
    return *position_;
  }
  TrackingIterator& operator++() {
    ++position_;
    return *this;
  }
  TrackingIterator operator++(int) {
    TrackingIterator before = *this;
    ++position_;
    return before;
  }
  friend bool operator==(const TrackingIterator& a, const TrackingIterator& b) {
    return a.position_ == b.position_;
  }

 private:
  const char* position_;
  const char** last_read_;
};

// Appends `text` with bytes outside printable ASCII shown as \xNN, so messages stay printable even when
// they quote invalid UTF-8.
void append_printable(std::string& out, std::string_view text) {
  constexpr std::string_view hex = "0123456789abcdef";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) {
      out.push_back(c);
    } else {
      out.append("\\x");
      out.push_back(hex[byte >> 4]);
      out.push_back(hex[byte & 0xFU]);
    }
  }
}

std::string shorten(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

// Object keys are looked up linearly in an ordered_json; past this many keys the builder keeps a hash
// index instead, so an object with 100,000 keys costs linear rather than quadratic time.
constexpr std::size_t linear_key_limit = 16;

class DomBuilder {
 public:
  DomBuilder(Json& root, std::string_view text, const char* const& last_read)
      : root_(root), text_(text), last_read_(last_read) {}

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool value) { return put(Json(value)); }
  bool number_integer(Json::number_integer_t value) { return put(Json(value)); }
  bool number_unsigned(Json::number_unsigned_t value) { return put(Json(value)); }

  bool number_float(Json::number_float_t value, const std::string& lexeme) {
    // The lexer falls back to a float for an integer literal that overflows 64 bits. Python keeps such
    // an integer exact, so accepting the float would give a wrong hash.
    if (lexeme.find_first_of(".eE") == std::string::npos) {
      // The lexer has read one byte past the number (or stopped at the end), so the literal starts at
      // the last occurrence of it that begins no later than that byte.
      const std::size_t read = static_cast<std::size_t>(last_read_ - text_.data());
      const std::size_t start = text_.rfind(lexeme, read);
      return fail(start == std::string_view::npos ? read : start,
                  "integer " + shorten(lexeme, 40) + " is outside the 64-bit range (" +
                      std::to_string(INT64_MIN) + " to " + std::to_string(UINT64_MAX) + ")");
    }
    return put(Json(value));
  }

  bool string(std::string& value) { return put(Json(std::move(value))); }

  bool binary(Json::binary_t& value) { return put(Json(Json::binary_t(std::move(value)))); }

  bool start_object(std::size_t /*size*/) { return open(Json::value_t::object); }
  bool start_array(std::size_t /*size*/) { return open(Json::value_t::array); }

  bool key(std::string& key) {
    Frame& frame = stack_.back();
    // ordered_map hides the vector's operator[] behind its key lookup; index the vector itself.
    Json::object_t::Container& object = frame.value->get_ref<Json::object_t&>();
    // Python's json.loads keeps the last value of a repeated key at the position of the first one.
    if (frame.index) {
      const auto found = frame.index->find(key);
      if (found != frame.index->end()) {
        pending_ = &object[found->second].second;
        return true;
      }
      frame.index->emplace(key, object.size());
    } else {
      for (auto& [existing, value] : object) {
        if (existing == key) {
          pending_ = &value;
          return true;
        }
      }
      if (object.size() == linear_key_limit) {
        frame.index = std::make_unique<std::unordered_map<std::string, std::size_t>>();
        for (std::size_t i = 0; i < object.size(); ++i) frame.index->emplace(object[i].first, i);
        frame.index->emplace(key, object.size());
      }
    }
    object.emplace_back(std::move(key), nullptr);
    pending_ = &object.back().second;
    return true;
  }

  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& e) {
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at line 1, column 4: <what>";
    // the line and column are replaced by our own byte offset, <what> is kept.
    std::string_view what = e.what();
    const std::size_t column = what.find(", column ");
    if (column != std::string_view::npos) {
      const std::size_t colon = what.find(": ", column);
      if (colon != std::string_view::npos) what.remove_prefix(colon + 2);
    } else if (const std::size_t bracket = what.find("] "); bracket != std::string_view::npos) {
      what.remove_prefix(bracket + 2);
    }
    // `position` counts the bytes read, the offending one included (or one past the end at the end).
    return fail(position == 0 ? 0 : position - 1, shorten(what, 200));
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    Json* value;
    std::unique_ptr<std::unordered_map<std::string, std::size_t>> index;
  };

  bool open(Json::value_t type) {
    if (stack_.size() >= max_nesting_depth) {
      return fail(static_cast<std::size_t>(last_read_ - text_.data()),
                  "arrays and objects nested deeper than " + std::to_string(max_nesting_depth) + " levels");
    }
    Json* value = place(Json(type));
    stack_.push_back(Frame{value, nullptr});
    return true;
  }

  bool put(Json&& value) {
    place(std::move(value));
    return true;
  }

  // Pointers into containers stay valid: a container only grows while it is the innermost open one, and
  // then no deeper pointer is held.
  Json* place(Json&& value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& container = *stack_.back().value;
    if (container.is_array()) {
      auto& array = container.get_ref<Json::array_t&>();
      array.push_back(std::move(value));
      return &array.back();
    }
    *pending_ = std::move(value);
    return pending_;
  }

  bool fail(std::size_t offset, std::string_view what) {
    error_ = "JSON error at byte " + std::to_string(offset);
    if (offset >= text_.size()) {
      error_ += " (end of input)";
    } else if (text_.find('\n') != std::string_view::npos) {
      const std::string_view before = text_.substr(0, offset);
      const std::size_t line_start = before.rfind('\n');
      const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
      const std::size_t column = offset - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
      error_ += " (line " + std::to_string(line) + ", column " + std::to_string(column) + ")";
    }
    error_ += ": ";
    append_printable(error_, what);
    return false;
  }

  Json& root_;
  std::string_view text_;
  const char* const& last_read_;
  std::vector<Frame> stack_;
  Json* pending_ = nullptr;
  std::string error_;
};

}  // namespace

Json parse_json(std::string_view text) {
  Json root;
  const char* last_read = text.data();
  DomBuilder builder(root, text, last_read);
  const TrackingIterator first(text.data(), &last_read);
  const TrackingIterator last(text.data() + text.size(), &last_read);
  if (!Json::sax_parse(first, last, &builder)) throw JsonError(builder.error());
  return root;
}

}  // namespace torchsystem
