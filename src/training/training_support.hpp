// What the training layer's sources share: LibTorch's messages shortened for the layer's own errors, and
// the check of a bounded int in a configuration.
//
// LibTorch's messages carry a C++ backtrace after their first line; an error that names a file or a
// configuration key should quote only what went wrong.
#pragma once

#include <c10/util/Exception.h>

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "torchsystem/error.hpp"
#include "torchsystem/json.hpp"
#include "torchsystem/value_traits.hpp"

namespace torchsystem::training_detail {

/// The first non-blank line of `text`, without a trailing ':' that introduced the lines left out.
/// LibTorch's TorchScript errors start with a line break, so the plain first line would be empty.
inline std::string first_line(std::string_view text) {
  const auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return {};
  text.remove_prefix(start);
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == ':' || text.back() == ' ' || text.back() == '\r'))
    text.remove_suffix(1);
  return std::string(text);
}

/// The first line of an exception's message, without LibTorch's backtrace; never empty, so that an
/// error built from it always says something.
inline std::string message_of(const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  std::string line = first_line(torch_error ? torch_error->what_without_backtrace() : error.what());
  return line.empty() ? std::string("LibTorch failed without a message") : line;
}

/// The int at `path` of a configuration, from 1 to `limit`.
inline std::int64_t positive_int(const Json& value, const std::string& path, std::int64_t limit) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > limit) {
    throw ArgumentError(
        path, "expected an int from 1 to " + std::to_string(limit) + ", got " + describe_json(value));
  }
  return value.get<std::int64_t>();
}

}  // namespace torchsystem::training_detail
