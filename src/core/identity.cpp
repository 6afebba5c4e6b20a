#include "torchsystem/identity.hpp"

#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "torchsystem/error.hpp"

namespace torchsystem {
namespace {

// ---------------------------------------------------------------------------------------------------
// UTF-8 decoding. One decoder serves both the rendering hot path and the error messages, so the two can
// never disagree about what is valid.

enum class Utf8Fault {
  none,
  continuation_without_lead,
  overlong,
  surrogate,
  above_max,
  never_valid_byte,
  bad_continuation,
  truncated,
};

std::string_view describe(Utf8Fault fault) {
  switch (fault) {
    case Utf8Fault::none:
      return "valid";
    case Utf8Fault::continuation_without_lead:
      return "continuation byte without a lead byte";
    case Utf8Fault::overlong:
      return "overlong encoding";
    case Utf8Fault::surrogate:
      return "UTF-16 surrogate (U+D800..U+DFFF) encoded in UTF-8";
    case Utf8Fault::above_max:
      return "code point above U+10FFFF";
    case Utf8Fault::never_valid_byte:
      return "byte that never occurs in UTF-8";
    case Utf8Fault::bad_continuation:
      return "lead byte not followed by a continuation byte";
    case Utf8Fault::truncated:
      return "sequence cut off by the end of the string";
  }
  return "invalid";
}

struct Decoded {
  char32_t code_point = 0;
  int length = 0;  // bytes consumed; 0 when `fault` is set
  Utf8Fault fault = Utf8Fault::none;
};

constexpr bool is_continuation(unsigned char byte) {
  return (byte & 0xC0U) == 0x80U;
}

// Decodes the multi-byte sequence starting at `p` (whose first byte is >= 0x80), following the table of
// well-formed sequences in the Unicode standard (section 3.9, table 3-7).
Decoded decode_multibyte(const unsigned char* p, const unsigned char* end) {
  const unsigned char lead = *p;
  int length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  Utf8Fault second_low_fault = Utf8Fault::bad_continuation;
  Utf8Fault second_high_fault = Utf8Fault::bad_continuation;
  char32_t code_point = 0;
  if (lead < 0xC0) return {0, 0, Utf8Fault::continuation_without_lead};
  if (lead < 0xC2) return {0, 0, Utf8Fault::overlong};
  if (lead < 0xE0) {
    length = 2;
    code_point = lead & 0x1FU;
  } else if (lead < 0xF0) {
    length = 3;
    code_point = lead & 0x0FU;
    if (lead == 0xE0) {
      second_min = 0xA0;
      second_low_fault = Utf8Fault::overlong;
    } else if (lead == 0xED) {
      second_max = 0x9F;
      second_high_fault = Utf8Fault::surrogate;
    }
  } else if (lead < 0xF5) {
    length = 4;
    code_point = lead & 0x07U;
    if (lead == 0xF0) {
      second_min = 0x90;
      second_low_fault = Utf8Fault::overlong;
    } else if (lead == 0xF4) {
      second_max = 0x8F;
      second_high_fault = Utf8Fault::above_max;
    }
  } else {
    return {0, 0, Utf8Fault::never_valid_byte};
  }
  for (int i = 1; i < length; ++i) {
    if (p + i >= end) return {0, 0, Utf8Fault::truncated};
    const unsigned char byte = p[i];
    if (!is_continuation(byte)) return {0, 0, Utf8Fault::bad_continuation};
    if (i == 1) {
      if (byte < second_min) return {0, 0, second_low_fault};
      if (byte > second_max) return {0, 0, second_high_fault};
    }
    code_point = (code_point << 6) | (byte & 0x3FU);
  }
  return {code_point, length, Utf8Fault::none};
}

struct Utf8Error {
  std::size_t offset = 0;
  Utf8Fault fault = Utf8Fault::none;
};

Utf8Error find_utf8_error(std::string_view text) {
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  for (const auto* p = begin; p < end;) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const Decoded decoded = decode_multibyte(p, end);
    if (decoded.fault != Utf8Fault::none) return {static_cast<std::size_t>(p - begin), decoded.fault};
    p += decoded.length;
  }
  return {};
}

std::string utf8_message(std::string_view what, const Utf8Error& error) {
  std::string message = "invalid UTF-8 in ";
  message += what;
  message += " at byte ";
  message += std::to_string(error.offset);
  message += ": ";
  message += describe(error.fault);
  return message;
}

// ---------------------------------------------------------------------------------------------------
// Rendering.

constexpr std::string_view hex_digits = "0123456789abcdef";

// Bytes that cannot be copied verbatim under ensure_ascii: controls, '"', '\\', DEL and all non-ASCII.
constexpr std::array<bool, 256> make_needs_escape() {
  std::array<bool, 256> table{};
  for (std::size_t byte = 0; byte < table.size(); ++byte) {
    table[byte] = byte < 0x20 || byte == '"' || byte == '\\' || byte >= 0x7F;
  }
  return table;
}
constexpr std::array<bool, 256> needs_escape = make_needs_escape();

void append_u_escape(std::string& out, char32_t unit) {
  const char escape[6] = {'\\',
                          'u',
                          hex_digits[(unit >> 12) & 0xFU],
                          hex_digits[(unit >> 8) & 0xFU],
                          hex_digits[(unit >> 4) & 0xFU],
                          hex_digits[unit & 0xFU]};
  out.append(escape, sizeof escape);
}

// Thrown inside the renderer only; dumps_append turns it into an IdentityError that says where the
// string is, which needs a second walk that the hot path should not pay for.
struct InvalidString {};

void append_string(std::string& out, std::string_view text) {
  out.push_back('"');
  const auto* begin = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = begin + text.size();
  const auto* run = begin;
  for (const auto* p = begin; p < end;) {
    const unsigned char byte = *p;
    if (!needs_escape[byte]) {
      ++p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    if (byte < 0x80) {
      switch (byte) {
        case '"':
          out.append("\\\"", 2);
          break;
        case '\\':
          out.append("\\\\", 2);
          break;
        case '\n':
          out.append("\\n", 2);
          break;
        case '\r':
          out.append("\\r", 2);
          break;
        case '\t':
          out.append("\\t", 2);
          break;
        case '\b':
          out.append("\\b", 2);
          break;
        case '\f':
          out.append("\\f", 2);
          break;
        default:
          append_u_escape(out, byte);
      }
      ++p;
    } else {
      const Decoded decoded = decode_multibyte(p, end);
      if (decoded.fault != Utf8Fault::none) throw InvalidString{};
      if (decoded.code_point < 0x10000) {
        append_u_escape(out, decoded.code_point);
      } else {
        const char32_t offset = decoded.code_point - 0x10000;
        append_u_escape(out, 0xD800 + (offset >> 10));
        append_u_escape(out, 0xDC00 + (offset & 0x3FFU));
      }
      p += decoded.length;
    }
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(end - run));
  out.push_back('"');
}

template <typename Integer>
void append_integer(std::string& out, Integer value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void append_float(std::string& out, double value) {
  if (std::isnan(value)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(value)) {
    out.append(value > 0 ? "Infinity" : "-Infinity");
    return;
  }
  // Shortest round-trip digits and the decimal exponent, as "[-]d[.ddd]e[+-]xx"; the layout is Python's.
  char buffer[40];
  const char* const buffer_end =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific).ptr;
  const char* p = buffer;
  if (*p == '-') {
    out.push_back('-');
    ++p;
  }
  char digits[20];
  int count = 0;
  for (; *p != 'e'; ++p) {
    if (*p != '.') digits[count++] = *p;
  }
  ++p;  // 'e'
  const bool negative_exponent = *p == '-';
  ++p;  // sign
  int exponent = 0;
  std::from_chars(p, buffer_end, exponent);
  if (negative_exponent) exponent = -exponent;

  if (exponent < -4 || exponent >= 16) {
    out.push_back(digits[0]);
    if (count > 1) {
      out.push_back('.');
      out.append(digits + 1, static_cast<std::size_t>(count - 1));
    }
    out.push_back('e');
    out.push_back(negative_exponent ? '-' : '+');
    const int magnitude = negative_exponent ? -exponent : exponent;
    if (magnitude < 10) out.push_back('0');
    append_integer(out, magnitude);
  } else if (exponent < 0) {
    out.append("0.", 2);
    out.append(static_cast<std::size_t>(-exponent - 1), '0');
    out.append(digits, static_cast<std::size_t>(count));
  } else if (count <= exponent + 1) {
    out.append(digits, static_cast<std::size_t>(count));
    out.append(static_cast<std::size_t>(exponent + 1 - count), '0');
    out.append(".0", 2);
  } else {
    out.append(digits, static_cast<std::size_t>(exponent) + 1);
    out.push_back('.');
    out.append(digits + exponent + 1, static_cast<std::size_t>(count - exponent - 1));
  }
}

std::string depth_message() {
  return "arrays and objects nested deeper than " + std::to_string(max_nesting_depth) +
         " levels have no Python identity text";
}

void append_value(std::string& out, const Json& value, std::size_t depth) {
  switch (value.type()) {
    case Json::value_t::null:
      out.append("null", 4);
      return;
    case Json::value_t::boolean:
      if (value.get_ref<const Json::boolean_t&>()) {
        out.append("true", 4);
      } else {
        out.append("false", 5);
      }
      return;
    case Json::value_t::number_integer:
      append_integer(out, value.get_ref<const Json::number_integer_t&>());
      return;
    case Json::value_t::number_unsigned:
      append_integer(out, value.get_ref<const Json::number_unsigned_t&>());
      return;
    case Json::value_t::number_float:
      append_float(out, value.get_ref<const Json::number_float_t&>());
      return;
    case Json::value_t::string:
      append_string(out, value.get_ref<const Json::string_t&>());
      return;
    case Json::value_t::array: {
      if (depth >= max_nesting_depth) throw IdentityError(depth_message());
      const auto& array = value.get_ref<const Json::array_t&>();
      out.push_back('[');
      bool first = true;
      for (const Json& element : array) {
        if (!first) out.append(", ", 2);
        first = false;
        append_value(out, element, depth + 1);
      }
      out.push_back(']');
      return;
    }
    case Json::value_t::object: {
      if (depth >= max_nesting_depth) throw IdentityError(depth_message());
      const auto& object = value.get_ref<const Json::object_t&>();
      out.push_back('{');
      bool first = true;
      for (const auto& [key, element] : object) {
        if (!first) out.append(", ", 2);
        first = false;
        append_string(out, key);
        out.append(": ", 2);
        append_value(out, element, depth + 1);
      }
      out.push_back('}');
      return;
    }
    case Json::value_t::binary:
      throw IdentityError("binary values have no Python identity text");
    case Json::value_t::discarded:
      throw IdentityError("a discarded JSON value has no Python identity text");
  }
  throw IdentityError("unknown JSON value type");
}

// A JSON pointer (RFC 6901) for messages; bytes outside printable ASCII are shown as \xNN because the
// key itself may be the invalid string.
void append_pointer_token(std::string& path, std::string_view token) {
  path.push_back('/');
  for (const char c : token) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '~') {
      path.append("~0");
    } else if (c == '/') {
      path.append("~1");
    } else if (byte < 0x20 || byte >= 0x7F) {
      path.append("\\x");
      path.push_back(hex_digits[byte >> 4]);
      path.push_back(hex_digits[byte & 0xFU]);
    } else {
      path.push_back(c);
    }
  }
}

// Finds the first invalid string in rendering order; returns false when there is none.
bool locate_invalid_string(const Json& value, std::string& path, std::string& message) {
  if (value.is_string()) {
    const Utf8Error error = find_utf8_error(value.get_ref<const Json::string_t&>());
    if (error.fault == Utf8Fault::none) return false;
    message = utf8_message("string", error);
    message += path.empty() ? " (the top-level value)" : " (the value at " + path + ")";
    return true;
  }
  if (value.is_array()) {
    const auto& array = value.get_ref<const Json::array_t&>();
    for (std::size_t index = 0; index < array.size(); ++index) {
      const std::size_t mark = path.size();
      append_pointer_token(path, std::to_string(index));
      if (locate_invalid_string(array[index], path, message)) return true;
      path.resize(mark);
    }
  } else if (value.is_object()) {
    for (const auto& [key, element] : value.get_ref<const Json::object_t&>()) {
      const std::size_t mark = path.size();
      append_pointer_token(path, key);
      const Utf8Error error = find_utf8_error(key);
      if (error.fault != Utf8Fault::none) {
        message = utf8_message("string", error) + " (the key at " + path + ")";
        return true;
      }
      if (locate_invalid_string(element, path, message)) return true;
      path.resize(mark);
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------
// MD5.

struct EvpMdDeleter {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct EvpMdContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

// Fetched once: an implicit fetch inside every EVP_DigestInit_ex would look the algorithm up each time.
const EVP_MD* md5_algorithm() {
  static const std::unique_ptr<EVP_MD, EvpMdDeleter> md5{EVP_MD_fetch(nullptr, "MD5", nullptr)};
  if (!md5) throw Error("OpenSSL provides no MD5 implementation (is the default provider disabled?)");
  return md5.get();
}

EVP_MD_CTX* md5_context() {
  thread_local const std::unique_ptr<EVP_MD_CTX, EvpMdContextDeleter> context{EVP_MD_CTX_new()};
  if (!context) throw Error("OpenSSL could not allocate a digest context");
  return context.get();
}

}  // namespace

void require_utf8(std::string_view text, std::string_view what) {
  const Utf8Error error = find_utf8_error(text);
  if (error.fault != Utf8Fault::none) throw IdentityError(utf8_message(what, error));
}

std::string python_float_repr(double value) {
  std::string out;
  append_float(out, value);
  return out;
}

void dumps_append(std::string& out, const Json& value) {
  const std::size_t start = out.size();
  try {
    append_value(out, value, 0);
  } catch (const InvalidString&) {
    out.resize(start);
    std::string path;
    std::string message;
    if (!locate_invalid_string(value, path, message)) message = "invalid UTF-8 in string";
    throw IdentityError(message);
  } catch (...) {
    out.resize(start);
    throw;
  }
}

std::string dumps(const Json& value) {
  std::string out;
  out.reserve(128);  // most argument texts fit, which saves the early doubling steps
  dumps_append(out, value);
  return out;
}

std::string md5_hex(std::string_view bytes) {
  const EVP_MD* md5 = md5_algorithm();
  EVP_MD_CTX* context = md5_context();
  unsigned char digest[16];
  unsigned int length = 0;
  if (EVP_DigestInit_ex(context, md5, nullptr) != 1 ||
      EVP_DigestUpdate(context, bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(context, digest, &length) != 1 || length != sizeof digest) {
    throw Error("OpenSSL MD5 computation failed");
  }
  std::string hex(2 * sizeof digest, '\0');
  for (std::size_t i = 0; i < sizeof digest; ++i) {
    hex[2 * i] = hex_digits[digest[i] >> 4];
    hex[2 * i + 1] = hex_digits[digest[i] & 0xFU];
  }
  return hex;
}

std::string identity_text(std::string_view name, const Json& arguments) {
  require_utf8(name, "name");
  std::string text;
  text.reserve(name.size() + 128);
  text.append(name);
  dumps_append(text, arguments);
  return text;
}

std::string identity_hash(std::string_view name, const Json& arguments) {
  // A per-thread buffer keeps its capacity, so steady-state hashing does not allocate for the text.
  thread_local std::string text;
  require_utf8(name, "name");
  text.assign(name);
  dumps_append(text, arguments);
  std::string hash = md5_hex(text);
  if (text.capacity() > (std::size_t{1} << 20)) std::string().swap(text);  // do not pin a huge buffer
  return hash;
}

namespace {

void indented_append(std::string& out, const Json& value, std::size_t depth) {
  const auto indent = [&](std::size_t level) { out.append("\n").append(2 * level, ' '); };
  if (value.is_object() && !value.empty()) {
    out += '{';
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first) out += ',';
      first = false;
      indent(depth + 1);
      dumps_append(out, Json(key));
      out += ": ";
      indented_append(out, item, depth + 1);
    }
    indent(depth);
    out += '}';
  } else if (value.is_array() && !value.empty()) {
    out += '[';
    bool first = true;
    for (const auto& item : value) {
      if (!first) out += ',';
      first = false;
      indent(depth + 1);
      indented_append(out, item, depth + 1);
    }
    indent(depth);
    out += ']';
  } else {
    dumps_append(out, value);
  }
}

}  // namespace

std::string dumps_indented(const Json& value) {
  std::string out;
  indented_append(out, value, 0);
  return out;
}

}  // namespace torchsystem
