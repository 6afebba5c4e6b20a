// What the training layer's sources share: the check of a bounded int in a configuration.
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace torchsystem::training_detail
