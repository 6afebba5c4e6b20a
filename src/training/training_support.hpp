// What the training layer's sources share: the checks of a bounded int and of a path in a configuration.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "torchsystem/error.hpp"
#include "torchsystem/json.hpp"
#include "torchsystem/value_traits.hpp"

namespace torchsystem::training_detail {

/// The int at `path` of a configuration, from 1 to `limit`.
inline std::int64_t positive_int(const Json& value, const std::string& path, std::int64_t limit) {
  if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > limit) {
    throw ArgumentError(
        path, "expected an int from 1 to " + std::to_string(limit) + ", got " + describe_json(value));
  }
  return value.get<std::int64_t>();
}

/// The path at `path` of a configuration (`what` says what it names, for the message): a non-empty string
/// without a NUL byte, which the system would cut the path at (`"store": "a\u0000/etc"` is `a`), relative
/// to `base` when it is relative and `base` is not empty.
inline std::filesystem::path path_value(const Json& value, const std::string& path, std::string_view what,
                                        const std::filesystem::path& base) {
  if (!value.is_string() || value.get_ref<const std::string&>().empty())
    throw ArgumentError(
        path, "expected " + std::string(what) + " as a non-empty string, got " + describe_json(value));
  const std::string& text = value.get_ref<const std::string&>();
  if (text.find('\0') != std::string::npos)
    throw ArgumentError(
        path, "expected " + std::string(what) + " without a NUL character, got " + describe_json(value));
  std::filesystem::path result(text);
  if (result.is_relative() && !base.empty()) result = (base / result).lexically_normal();
  return result;
}

}  // namespace torchsystem::training_detail
