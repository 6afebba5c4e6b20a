// Fuzz target: the identity text. Two views of each input:
//  1. the bytes as JSON text: when parse_json accepts them, dumps() must succeed, its text must parse back
//     to the same value (integers and floats apart, -0.0 apart from 0.0, key order kept), render to the
//     same text again, and identity_hash must be the MD5 of name + that text;
//  2. the bytes as a recipe for a Json value built directly (ByteReader): strings and keys with
//     any bytes, any double (NaN, infinities, subnormals), unsigned integers, deep nesting. dumps() must
//     succeed exactly when every string is valid UTF-8 and nesting is within max_nesting_depth, fail
//     otherwise with IdentityError, and its text must parse back to the same value.
// python_float_repr must round-trip every finite double it meets.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"

namespace torchsystem::fuzz {
namespace {

/// An independent UTF-8 check (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), so
/// that the target does not judge the library by its own validator.
bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if (byte >= 0xc2 && byte <= 0xdf) {
      length = 2, code = byte & 0x1f;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      length = 3, code = byte & 0x0f;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      length = 4, code = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10ffff)) ||
        (code >= 0xd800 && code <= 0xdfff))
      return false;
    i += length;
  }
  return true;
}

/// What a built value holds that decides whether dumps() may refuse it or parse_json give it back.
struct Shape {
  std::size_t depth = 0;  // containers along the deepest path
  bool invalid_utf8 = false;
  bool non_finite = false;
};

// Iterative: values nest a thousand levels deep, and frames are large under the sanitizers.
Shape shape_of(const Json& root) {
  Shape shape;
  std::vector<std::pair<const Json*, std::size_t>> pending{{&root, 0}};  // a value and its depth
  while (!pending.empty()) {
    const auto [value, depth] = pending.back();
    pending.pop_back();
    if (value->is_string()) {
      shape.invalid_utf8 |= !valid_utf8(value->get_ref<const std::string&>());
    } else if (value->is_number_float()) {
      shape.non_finite |= !std::isfinite(value->get<double>());
    } else if (value->is_structured()) {
      shape.depth = std::max(shape.depth, depth + 1);
      for (auto it = value->begin(); it != value->end(); ++it) {
        if (value->is_object() && !valid_utf8(it.key())) shape.invalid_utf8 = true;
        pending.emplace_back(&it.value(), depth + 1);
      }
    }
  }
  return shape;
}

void check_float_reprs(const Json& value) {
  if (value.is_number_float()) {
    const double x = value.get<double>();
    const std::string repr = python_float_repr(x);
    if (std::isfinite(x)) {
      const double back = std::strtod(repr.c_str(), nullptr);
      check(std::bit_cast<std::uint64_t>(back) == std::bit_cast<std::uint64_t>(x),
            "python_float_repr does not round-trip: " + repr);
    }
  } else if (value.is_structured()) {
    for (const auto& item : value) check_float_reprs(item);
  }
}

/// The invariants of one value dumps() accepted.
void check_rendered(const Json& value, const std::string& text) {
  Json back;
  try {
    back = parse_json(text);
  } catch (const JsonError& e) {
    fail(std::string("dumps() text does not parse: ") + e.what());
  }
  check(same_value(back, value), "dumps() text parses to another value");
  check(dumps(back) == text, "dumps() is not stable through a re-parse");
  check(identity_hash("Model", value) == md5_hex("Model" + text), "identity_hash is not md5(name + dumps)");
}

void fuzz_text(std::string_view text) {
  Json value;
  try {
    value = parse_json(text);
  } catch (const JsonError&) {
    return;  // refusing is fine; what it accepts must render
  }
  std::string rendered;
  try {
    rendered = dumps(value);
  } catch (const Error& e) {
    fail(std::string("dumps() refuses a value parse_json accepted: ") + e.what());
  }
  check_rendered(value, rendered);
  check_float_reprs(value);
}

// Beyond max_nesting_depth by a little, so both sides of the limit are reached.
constexpr std::size_t max_chain = max_nesting_depth + 2;

Json build(ByteReader& data, std::size_t depth) {
  switch (data.in_range<int>(0, 9)) {
    case 0:
      return nullptr;
    case 1:
      return data.boolean();
    case 2:
      return data.integral<std::int64_t>();
    case 3:
      return data.integral<std::uint64_t>();
    case 4:  // any bit pattern: NaN payloads, infinities, subnormals, -0.0
      return std::bit_cast<double>(data.integral<std::uint64_t>());
    case 5:
      return data.string(64);
    case 6:
    case 7: {
      if (depth >= 8) return data.string(8);
      Json array = Json::array();
      const auto count = data.in_range<std::size_t>(0, 6);
      for (std::size_t i = 0; i < count && data.remaining() > 0; ++i) array.push_back(build(data, depth + 1));
      return array;
    }
    case 8: {
      if (depth >= 8) return data.integral<std::int32_t>();
      Json object = Json::object();
      const auto count = data.in_range<std::size_t>(0, 6);
      for (std::size_t i = 0; i < count && data.remaining() > 0; ++i) {
        const std::string key = data.string(16);
        object[key] = build(data, depth + 1);
      }
      return object;
    }
    default: {  // a deep chain of arrays or objects around one value (one chain at most: depth 8 below)
      if (depth >= 8) return data.integral<std::int16_t>();
      const auto levels = data.in_range<std::size_t>(max_nesting_depth - 2, max_chain);
      const bool objects = data.boolean();
      Json value = build(data, 8);
      for (std::size_t i = 0; i < levels; ++i) {
        Json outer = objects ? Json::object() : Json::array();
        if (objects)
          outer["k"] = std::move(value);
        else
          outer.push_back(std::move(value));
        value = std::move(outer);
      }
      return value;
    }
  }
}

void fuzz_built(const std::uint8_t* bytes, std::size_t size) {
  ByteReader data(bytes, size);
  const Json value = build(data, 0);
  const Shape shape = shape_of(value);
  const bool refusable = shape.invalid_utf8 || shape.depth > max_nesting_depth;
  std::string rendered;
  try {
    rendered = dumps(value);
  } catch (const IdentityError& e) {
    check(refusable, std::string("dumps() refuses a valid value: ") + e.what());
    return;
  } catch (const Error& e) {
    fail(std::string("dumps() throws an error other than IdentityError: ") + e.what());
  }
  check(!refusable, "dumps() accepts invalid UTF-8 or nesting beyond max_nesting_depth");
  check_rendered(value, rendered);
  check_float_reprs(value);
}

}  // namespace
}  // namespace torchsystem::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace torchsystem::fuzz;
  // Anything but the library's own errors escaping is a defect too: a try block here would hide it, so
  // std::terminate reports it with the exception's type.
  fuzz_text(std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz_built(data, size);
  return 0;
}
