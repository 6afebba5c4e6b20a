// Reading JSON text strictly, for identities and configurations.
//
// A plain JSON parser quietly turns an integer that does not fit 64 bits into a float, which would give a
// wrong hash where Python prints the integer exactly. This reader refuses such input instead, and also
// refuses nesting deeper than max_nesting_depth (without recursing), invalid UTF-8 and trailing text.
#pragma once

#include <string_view>

#include "torchsystem/json.hpp"

namespace torchsystem {

/// Parses one JSON document. Throws JsonError with the byte position and what was expected.
Json parse_json(std::string_view text);

}  // namespace torchsystem
