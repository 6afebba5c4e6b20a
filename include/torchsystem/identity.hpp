// Identity text and hash, byte for byte as the Python reference computes them.
//
// The reference hashes an entity as md5(UTF-8(name + json.dumps(arguments))).hexdigest(). This header
// renders a JSON value exactly as Python's `json.dumps(obj)` does with its default settings
// (separators ", " and ": ", ensure_ascii, floats as Python's repr, NaN/Infinity allowed) and computes
// that hash with OpenSSL's MD5.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "torchsystem/json.hpp"

namespace torchsystem {

/// The deepest nesting of arrays and objects accepted anywhere (rendering and reading). Python's own
/// encoder gives up at about the same depth (its recursion limit), so no hash Python can compute is lost.
inline constexpr std::size_t max_nesting_depth = 1000;

/// Python's `json.dumps(value)` text. Throws IdentityError for strings that are not valid UTF-8 and for
/// nesting deeper than max_nesting_depth.
std::string dumps(const Json& value);

/// Appends Python's `json.dumps(value)` text to `out` (same rules and errors as dumps).
void dumps_append(std::string& out, const Json& value);

/// Python's `json.dumps(value, indent=2)` text: the same values, one item a line, two spaces a level (the
/// checkpoint store's readable sidecar). Same rules and errors as dumps.
std::string dumps_indented(const Json& value);

/// Python's `repr(float)`: the shortest digits that round-trip, exponent form exactly when the decimal
/// exponent is < -4 or >= 16, `.0` kept on integral values; `NaN`, `Infinity`, `-Infinity` as json.dumps.
std::string python_float_repr(double value);

/// Lowercase hexadecimal MD5 of `bytes` (OpenSSL).
std::string md5_hex(std::string_view bytes);

/// The identity text `name + json.dumps(arguments)`; the name must be valid UTF-8.
std::string identity_text(std::string_view name, const Json& arguments);

/// md5_hex(identity_text(name, arguments)): the reference's `gethash`.
std::string identity_hash(std::string_view name, const Json& arguments);

/// Throws IdentityError naming `what` when `text` is not valid UTF-8 (the byte offset is in the message).
void require_utf8(std::string_view text, std::string_view what);

}  // namespace torchsystem
