#include "torchsystem/json_reader.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
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

// Python's json.loads (and json.dumps, which writes them) accept NaN, Infinity and -Infinity, which
// strict JSON does not. The iterator below hands the lexer a number in their place; these are the
// numbers, each underflowing to zero so the lexer accepts it, and the builder turns them back only when
// the iterator says it substituted one (a genuine literal with the same digits stays a zero).
enum class Special { none, nan, infinity, negative_infinity };
struct Substitute {
  std::string_view literal;
  std::string_view number;
  Special special;
};
constexpr Substitute substitutes[] = {
    {"NaN", "0e-999999990", Special::nan},
    {"Infinity", "0e-999999991", Special::infinity},
    {"-Infinity", "-0e-999999991", Special::negative_infinity},
};

// What the iterator tells the builder: the last byte of the text the lexer read (nlohmann's SAX
// callbacks do not say where they are, so a refusal raised in a callback uses this to name its offset),
// and the special value it substituted last, if the builder has not taken it yet.
struct ReadState {
  const char* last_read = nullptr;
  Special substituted = Special::none;
  struct Span {
    std::size_t emitted;   // where the substitute starts among the bytes handed to the lexer
    std::size_t original;  // where the literal starts in the text
    const Substitute* substitute;
  };
  std::vector<Span> spans;  // every substitution so far, in order

  /// The offset in the text of the byte the lexer saw at `emitted`.
  std::size_t original_offset(std::size_t emitted) const {
    std::size_t offset = emitted;
    for (const Span& span : spans) {
      if (emitted < span.emitted) break;
      if (emitted < span.emitted + span.substitute->number.size()) return span.original;
      offset = offset - span.substitute->number.size() + span.substitute->literal.size();
    }
    return offset;
  }
};

// Walks the text for nlohmann's lexer, recording what it read and substituting Python's literals
// outside strings.
class TrackingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator(const char* position, const char* end, ReadState* state)
      : start_(position), position_(position), end_(end), state_(state) {
    begin_token();
  }

  const char& operator*() const {
    state_->last_read = position_;
    return substitute_ ? substitute_->number[within_] : *position_;
  }
  TrackingIterator& operator++() {
    ++emitted_;
    if (substitute_) {
      if (++within_ < substitute_->number.size()) return *this;
      position_ += substitute_->literal.size();
      substitute_ = nullptr;
      within_ = 0;
      begin_token();
      return *this;
    }
    track_strings(*position_);
    ++position_;
    begin_token();
    return *this;
  }
  TrackingIterator operator++(int) {
    TrackingIterator before = *this;
    ++*this;
    return before;
  }
  friend bool operator==(const TrackingIterator& a, const TrackingIterator& b) {
    return a.position_ == b.position_ && a.substitute_ == b.substitute_ && a.within_ == b.within_;
  }

 private:
  void track_strings(char c) {
    if (escaped_) {
      escaped_ = false;
    } else if (in_string_ && c == '\\') {
      escaped_ = true;
    } else if (c == '"') {
      in_string_ = !in_string_;
    }
  }

  void begin_token() {
    if (in_string_ || position_ == end_ || (*position_ != 'N' && *position_ != 'I' && *position_ != '-'))
      return;
    const std::string_view rest(position_, static_cast<std::size_t>(end_ - position_));
    for (const Substitute& candidate : substitutes) {
      if (rest.starts_with(candidate.literal)) {
        substitute_ = &candidate;
        within_ = 0;
        state_->substituted = candidate.special;
        state_->spans.push_back({emitted_, static_cast<std::size_t>(position_ - start_), &candidate});
        return;
      }
    }
  }

  const char* start_;
  const char* position_;
  const char* end_;
  ReadState* state_;
  std::size_t emitted_ = 0;  // bytes handed to the lexer so far
  const Substitute* substitute_ = nullptr;
  std::size_t within_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
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
  DomBuilder(Json& root, std::string_view text, ReadState& state) : root_(root), text_(text), state_(state) {}

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool value) { return put(Json(value)); }
  bool number_integer(Json::number_integer_t value) { return put(Json(value)); }
  bool number_unsigned(Json::number_unsigned_t value) { return put(Json(value)); }

  bool number_float(Json::number_float_t value, const std::string& lexeme) {
    if (state_.substituted != Special::none) {
      const Special special = std::exchange(state_.substituted, Special::none);
      for (const Substitute& candidate : substitutes) {
        if (candidate.special == special && candidate.number == lexeme)
          return put(Json(special_value(special)));
      }
    }
    // The lexer falls back to a float for an integer literal that overflows 64 bits. Python keeps such
    // an integer exact, so accepting the float would give a wrong hash.
    if (lexeme.find_first_of(".eE") == std::string::npos) {
      // The lexer has read one byte past the number (or stopped at the end), so the literal starts at
      // the last occurrence of it that begins no later than that byte.
      const auto read = static_cast<std::size_t>(state_.last_read - text_.data());
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
    std::string message(what);
    if (!state_.spans.empty()) {
      // The lexer quotes what it read, which holds the substitutes: show the literals that were written.
      for (const Substitute& candidate : substitutes) {
        for (std::size_t at = message.find(candidate.number); at != std::string::npos;
             at = message.find(candidate.number, at + candidate.literal.size())) {
          message.replace(at, candidate.number.size(), candidate.literal);
        }
      }
    }
    return fail(state_.original_offset(position == 0 ? 0 : position - 1), shorten(message, 200));
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    Json* value;
    std::unique_ptr<std::unordered_map<std::string, std::size_t>> index;
  };

  bool open(Json::value_t type) {
    if (stack_.size() >= max_nesting_depth) {
      return fail(static_cast<std::size_t>(state_.last_read - text_.data()),
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

  static double special_value(Special special) {
    if (special == Special::nan) return std::numeric_limits<double>::quiet_NaN();
    const double infinity = std::numeric_limits<double>::infinity();
    return special == Special::infinity ? infinity : -infinity;
  }

  Json& root_;
  std::string_view text_;
  ReadState& state_;
  std::vector<Frame> stack_;
  Json* pending_ = nullptr;
  std::string error_;
};

}  // namespace

Json parse_json(std::string_view text) {
  Json root;
  ReadState state;
  state.last_read = text.data();
  DomBuilder builder(root, text, state);
  const char* const end = text.data() + text.size();
  const TrackingIterator first(text.data(), end, &state);
  const TrackingIterator last(end, end, &state);
  if (!Json::sax_parse(first, last, &builder)) throw JsonError(builder.error());
  return root;
}

}  // namespace torchsystem
