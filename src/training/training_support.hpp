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

/// The first line of `text`.
inline std::string first_line(std::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

/// The first line of an exception's message, without LibTorch's backtrace.
inline std::string message_of(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error))
    return first_line(torch_error->what_without_backtrace());
  return first_line(error.what());
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
