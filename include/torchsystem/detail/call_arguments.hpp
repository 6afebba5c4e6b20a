// Machinery of registration.hpp (include that header instead): the arguments of one call with their static
// types erased, and the resolver that finds a class by name. Not part of the public surface: it may
// change in any release (docs/architecture.md, "The public surface").
#pragma once

#include <any>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "torchsystem/entity.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/extension.hpp"
#include "torchsystem/json.hpp"
#include "torchsystem/keywords.hpp"
#include "torchsystem/value_traits.hpp"

namespace torchsystem {

class ClassInfo;

namespace detail {

// ---------------------------------------------------------------------------------------------------
// Arguments of one call, with their static types erased.

/// One argument of a call: its identity form when it has one, the entity it refers to, or the value
/// itself when it travels in code only (a tensor, an optimizer's parameters).
class CallArgument {
 public:
  std::string_view keyword;          ///< empty for a positional argument
  Object entity;                     ///< the object, when the argument is an entity handle
  std::any value;                    ///< the value, when it has no JSON form
  const std::type_info* cpp_type{};  ///< the C++ type of `value`, for messages

  /// The identity form (and configuration form) of the value, or nullptr when it has none.
  const Json* json() const noexcept { return borrowed_ ? borrowed_ : (owns_json_ ? &owned_ : nullptr); }
  void set_json(Json json) {
    owned_ = std::move(json);
    owns_json_ = true;
    borrowed_ = nullptr;
  }
  /// Refers to a value in a configuration that outlives the call, without copying it.
  void refer_to_json(const Json& json) noexcept { borrowed_ = &json; }

 private:
  Json owned_;
  bool owns_json_ = false;
  const Json* borrowed_ = nullptr;
};
using CallArguments = std::vector<CallArgument>;

template <class A>
CallArgument make_argument(std::string_view keyword, A&& value) {
  using V = std::decay_t<A>;
  CallArgument argument;
  argument.keyword = keyword;
  if constexpr (entity_handle<V>) {
    argument.entity = entity_traits<V>::to_object(value);
    // An empty handle is Python's None: recorded as null, and a parameter takes it as an empty handle.
    if (!argument.entity) argument.set_json(nullptr);
  } else if constexpr (has_json_form<V>) {
    argument.set_json(value_traits<V>::to_json(value));
  } else {
    static_assert(std::is_copy_constructible_v<V>,
                  "an argument without a JSON form is carried in a std::any, which needs a copyable type");
    argument.value = std::forward<A>(value);
    argument.cpp_type = &typeid(V);
  }
  return argument;
}

template <class A>
CallArgument make_argument(A&& argument) {
  if constexpr (is_keyword_value_v<A>) {
    return make_argument(argument.name, std::forward<A>(argument).value);
  } else {
    return make_argument(std::string_view{}, std::forward<A>(argument));
  }
}

/// Packs a call's arguments, positional ones and `"name"_a = value` ones, in call order.
template <class... A>
CallArguments pack_arguments(A&&... arguments) {
  CallArguments packed;
  packed.reserve(sizeof...(A));
  (packed.push_back(make_argument(std::forward<A>(arguments))), ...);
  return packed;
}

/// The registered names closest to `name` (edit distance, case-insensitive), best first, at most `limit`.
std::vector<std::string> close_names(std::string_view name, const std::vector<std::string>& candidates,
                                     std::size_t limit = 3);

/// Finds classes by name, for entities named in a configuration (a Registry is one).
class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual const ClassInfo* find(std::string_view name) const = 0;
  /// Throws the UnknownNameError for `name` (with the names close to it), with an empty path.
  [[noreturn]] virtual void unknown_name(std::string_view name) const = 0;
};

}  // namespace detail

}  // namespace torchsystem
