// torchsystem: identities for C++ objects, compatible with the Python reference's registry.
//
// One include for the core: keyword arguments, value traits, entities and their accessors, class
// registration, registries, the identity text and hash, and the extension points.
#pragma once

#include "torchsystem/entity.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/extension.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/keywords.hpp"
#include "torchsystem/registration.hpp"
#include "torchsystem/registry.hpp"
#include "torchsystem/value_traits.hpp"
