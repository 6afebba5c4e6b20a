// The JSON value type of torchsystem.
//
// Arguments and metadata are JSON objects whose keys keep insertion order, because the identity hash
// of an entity is computed over Python's `json.dumps` of a dict, and Python dicts keep insertion order.
#pragma once

#include <nlohmann/json.hpp>

namespace torchsystem {

/// An ordered JSON value: objects keep their keys in insertion order, integers and floats stay distinct.
using Json = nlohmann::ordered_json;

}  // namespace torchsystem
