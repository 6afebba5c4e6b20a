// The extension points: the templates a user specializes to teach torchsystem a type of their own.
//
// value_traits<T>: a value type as a parameter. `name` is its Python-style type name (as signatures
// show it), `to_json` its identity form, `from_json` how a configuration gives it. from_json reports a
// bad value with conversion_error (an ArgumentError with an empty path); the library puts the path in
// front (`MLP.dropout`). The library's own specializations (bool, numbers, strings, containers,
// optional, Json) are in value_traits.hpp.
//
//   struct Size { int width, height; };
//   template <> struct torchsystem::value_traits<Size> {
//     static constexpr std::string_view name = "tuple";
//     static Json to_json(const Size& s) { return Json::array({s.width, s.height}); }
//     static Size from_json(const Json& json) {
//       if (!json.is_array() || json.size() != 2) conversion_error("tuple of 2", json);
//       return {json[0].get<int>(), json[1].get<int>()};
//     }
//   };
//
// string_enum<E>: the base of value_traits for an enum that travels as a string:
//
//   enum class Reduction { mean, sum };
//   template <> struct torchsystem::value_traits<Reduction> : torchsystem::string_enum<Reduction> {
//     static constexpr std::pair<Reduction, std::string_view> names[] = {{Reduction::mean, "mean"},
//                                                                        {Reduction::sum, "sum"}};
//   };
//
// handle_traits<T>: how objects of a registered type are handed out, by default std::shared_ptr<T>. A
// layer specializes it for handle types (the LibTorch layer does for module holders, so create<Linear>
// returns a Linear). Optional members: `static std::string type_name()`, the class's default name, and
// `static void prepare()`, run before the first create<T> or Registry::add<T> (to register built-in types
// on first use).
//
// entity_traits<H>: a handle type that refers to entities: as an argument it is recorded by identity, as
// a parameter it takes a registered object (or, in a configuration, a name or {"name", "arguments"}).
// A specialization gives to_object, from_object (an empty Object gives an empty handle) and type_name.
// std::shared_ptr<U> has one (entity.hpp), and the LibTorch layer adds module holders and AnyModule.
//
// extra_conversions<E>: other handle types the objects of element type E can be handed out as, when that
// needs the object's static type (LibTorch's AnyModule does). `list()` returns one Conversion each.
#pragma once

#include <any>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "torchsystem/error.hpp"
#include "torchsystem/json.hpp"

namespace torchsystem {

class Object;  // entity.hpp: a type-erased handle to an object

/// A short rendering of a JSON value for error messages: `"abc"`, `2.5`, `[1, 2, ...]`.
std::string describe_json(const Json& value);

/// Throws ArgumentError("expected <expected>, got <describe_json(got)>") with an empty path.
[[noreturn]] void conversion_error(std::string_view expected, const Json& got);

/// A value type as a parameter; the primary template has no identity form, so a parameter of such a
/// type must be excluded from identity (or passed in code only).
template <class T, class = void>
struct value_traits {};

/// Base for value_traits of an enum that travels as a string; the specialization provides `names`,
/// an array of {enumerator, text} pairs.
template <class E>
struct string_enum {
  static constexpr std::string_view name = "str";
  static Json to_json(E value) {
    for (const auto& [enumerator, text] : value_traits<E>::names) {
      if (enumerator == value) return std::string(text);
    }
    throw ArgumentError("", "enumerator " + std::to_string(static_cast<long long>(value)) + " has no name");
  }
  static E from_json(const Json& json) {
    std::string expected = "one of";
    for (const auto& [enumerator, text] : value_traits<E>::names) {
      if (json.is_string() && json.get_ref<const std::string&>() == text) return enumerator;
      expected += (expected.back() == 'f' ? " \"" : ", \"") + std::string(text) + "\"";
    }
    conversion_error(expected, json);
  }
};

/// How the library hands out objects of a registered type T: by default std::shared_ptr<T>.
template <class T>
struct handle_traits {
  using element_type = T;
  using handle_type = std::shared_ptr<T>;
  static handle_type wrap(std::shared_ptr<element_type> pointer) { return pointer; }
};

/// Handles that refer to entities; see the top of this file.
template <class H>
struct entity_traits;

/// Another handle type a class's objects can be handed out as: `convert` returns the handle in a
/// std::any, or an empty one.
struct Conversion {
  const std::type_info* target = nullptr;
  std::any (*convert)(const Object&) = nullptr;
};

/// The conversions a layer declares for objects of element type E; none by default.
template <class E>
struct extra_conversions {
  static std::vector<Conversion> list() { return {}; }
};

}  // namespace torchsystem
