// The value types the library knows as parameters: bool, integers, floating point, strings, std::vector,
// std::tuple, std::pair, string-keyed maps, std::optional and Json itself, with the concepts the library
// uses to tell what a type can do. A user adds a type by specializing value_traits (extension.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "torchsystem/error.hpp"
#include "torchsystem/extension.hpp"
#include "torchsystem/json.hpp"

namespace torchsystem {

/// The identity form of a C++ float: the double nearest to its shortest decimal text, so that 0.1f is
/// recorded as 0.1 (as a Python user writing 0.1 means it), not as 0.10000000149011612.
double float_identity(float value);

template <>
struct value_traits<bool> {
  static constexpr std::string_view name = "bool";
  static Json to_json(bool value) { return value; }
  static bool from_json(const Json& json) {
    if (!json.is_boolean()) conversion_error(name, json);
    return json.get<bool>();
  }
};

template <std::integral T>
requires(!std::same_as<T, bool> && !std::same_as<T, char>) struct value_traits<T> {
  static constexpr std::string_view name = "int";
  static Json to_json(T value) {
    if constexpr (std::is_signed_v<T>)
      return static_cast<std::int64_t>(value);
    else
      return static_cast<std::uint64_t>(value);
  }
  static T from_json(const Json& json) {
    if (json.is_number_unsigned()) {
      const auto value = json.get<std::uint64_t>();
      if (value <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(value);
    } else if (json.is_number_integer()) {
      const auto value = json.get<std::int64_t>();
      if (std::in_range<T>(value)) return static_cast<T>(value);
    } else {
      conversion_error(name, json);
    }
    conversion_error("int in the range of this parameter's C++ type", json);
  }
};

template <std::floating_point T>
struct value_traits<T> {
  static constexpr std::string_view name = "float";
  static Json to_json(T value) {
    if constexpr (std::same_as<T, float>)
      return float_identity(value);
    else
      return static_cast<double>(value);
  }
  static T from_json(const Json& json) {
    // Python passes an int where a float is annotated; so does a configuration.
    if (!json.is_number()) conversion_error(name, json);
    const double value = json.get<double>();
    // Converting a finite double outside a narrower type's range is undefined behaviour: refuse it.
    if (std::isfinite(value) && std::abs(value) > static_cast<double>(std::numeric_limits<T>::max())) {
      conversion_error("float in the range of this parameter's C++ type", json);
    }
    return static_cast<T>(value);
  }
};

template <>
struct value_traits<std::string> {
  static constexpr std::string_view name = "str";
  static Json to_json(const std::string& value) { return value; }
  static std::string from_json(const Json& json) {
    if (!json.is_string()) conversion_error(name, json);
    return json.get<std::string>();
  }
};

// Argument-only string forms: they are recorded, but a parameter must own its text (std::string).
template <>
struct value_traits<std::string_view> {
  static constexpr std::string_view name = "str";
  static Json to_json(std::string_view value) { return std::string(value); }
};
template <>
struct value_traits<const char*> {
  static constexpr std::string_view name = "str";
  static Json to_json(const char* value) { return std::string(value); }
};
template <>
struct value_traits<char*> : value_traits<const char*> {};

// Python's None, passed in code: recorded as null. Optional and entity parameters take it.
template <>
struct value_traits<std::nullopt_t> {
  static constexpr std::string_view name = "None";
  static Json to_json(std::nullopt_t) { return nullptr; }
};
template <>
struct value_traits<std::nullptr_t> {
  static constexpr std::string_view name = "None";
  static Json to_json(std::nullptr_t) { return nullptr; }
};

template <>
struct value_traits<Json> {
  static constexpr std::string_view name = "Any";
  static Json to_json(const Json& value) { return value; }
  static Json from_json(const Json& json) { return json; }
};

template <class T>
concept has_json_form = requires(const T& value) {
  { value_traits<T>::to_json(value) } -> std::convertible_to<Json>;
};

template <class T>
concept readable_from_json = has_json_form<T> && requires(const Json& json) {
  { value_traits<T>::from_json(json) } -> std::convertible_to<T>;
};

template <class T>
concept has_type_name = requires {
  std::string_view(value_traits<T>::name);
};

namespace detail {
/// Rethrows an ArgumentError raised for an element with `where` (such as `[2]`) in front of its reason.
[[noreturn]] void rethrow_in_element(const ArgumentError& error, std::string_view where);
}  // namespace detail

template <class T>
requires has_json_form<T>
struct value_traits<std::vector<T>> {
  static constexpr std::string_view name = "list";
  static Json to_json(const std::vector<T>& values) {
    Json json = Json::array();
    for (const auto& value : values) json.push_back(value_traits<T>::to_json(value));
    return json;
  }
  static std::vector<T> from_json(const Json& json) requires readable_from_json<T> {
    if (!json.is_array()) conversion_error(name, json);
    std::vector<T> values;
    values.reserve(json.size());
    for (std::size_t i = 0; i < json.size(); ++i) {
      try {
        values.push_back(value_traits<T>::from_json(json[i]));
      } catch (const ArgumentError& error) {
        detail::rethrow_in_element(error, "[" + std::to_string(i) + "]");
      }
    }
    return values;
  }
};

/// Python's tuples: a JSON array of fixed length, elements in order.
template <class... T>
requires(has_json_form<T>&&...) struct value_traits<std::tuple<T...>> {
  static constexpr std::string_view name = "tuple";
  static Json to_json(const std::tuple<T...>& values) {
    return std::apply([](const auto&... value) { return Json::array({value_traits<T>::to_json(value)...}); },
                      values);
  }
  static std::tuple<T...> from_json(const Json& json) requires(readable_from_json<T>&&...) {
    if (!json.is_array() || json.size() != sizeof...(T)) {
      conversion_error("tuple of " + std::to_string(sizeof...(T)), json);
    }
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<T...>{element<T>(json, I)...};
    }
    (std::index_sequence_for<T...>{});
  }

 private:
  template <class E>
  static E element(const Json& json, std::size_t index) {
    try {
      return value_traits<E>::from_json(json[index]);
    } catch (const ArgumentError& error) {
      detail::rethrow_in_element(error, "[" + std::to_string(index) + "]");
    }
  }
};

template <class T, class U>
requires(has_json_form<T>&& has_json_form<U>) struct value_traits<std::pair<T, U>>
    : value_traits<std::tuple<T, U>> {
  static Json to_json(const std::pair<T, U>& values) {
    return value_traits<std::tuple<T, U>>::to_json(std::tuple<T, U>(values));
  }
  static std::pair<T, U> from_json(const Json& json) requires(readable_from_json<T>&& readable_from_json<U>) {
    auto [first, second] = value_traits<std::tuple<T, U>>::from_json(json);
    return {std::move(first), std::move(second)};
  }
};

namespace detail {
template <class Map, class T>
struct string_keyed_map_traits {
  static constexpr std::string_view name = "dict";
  static Json to_json(const Map& values) {
    // Keys in sorted order: an unordered map's iteration order depends on its buckets, and an identity
    // must not (std::map iterates sorted already).
    std::vector<const typename Map::value_type*> entries;
    entries.reserve(values.size());
    for (const auto& entry : values) entries.push_back(&entry);
    std::sort(entries.begin(), entries.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    Json json = Json::object();
    for (const auto* entry : entries) json[entry->first] = value_traits<T>::to_json(entry->second);
    return json;
  }
  static Map from_json(const Json& json) requires readable_from_json<T> {
    if (!json.is_object()) conversion_error(name, json);
    Map values;
    for (const auto& [key, value] : json.items()) {
      try {
        values.emplace(key, value_traits<T>::from_json(value));
      } catch (const ArgumentError& error) {
        detail::rethrow_in_element(error, "[\"" + key + "\"]");
      }
    }
    return values;
  }
};
}  // namespace detail

template <class T>
requires has_json_form<T>
struct value_traits<std::map<std::string, T>> : detail::string_keyed_map_traits<std::map<std::string, T>, T> {
};

template <class T>
requires has_json_form<T>
struct value_traits<std::unordered_map<std::string, T>>
    : detail::string_keyed_map_traits<std::unordered_map<std::string, T>, T> {
};

template <class T>
requires has_json_form<T>
struct value_traits<std::optional<T>> {
  static constexpr std::string_view name = "Optional";
  static Json to_json(const std::optional<T>& value) {
    return value ? value_traits<T>::to_json(*value) : Json(nullptr);
  }
  static std::optional<T> from_json(const Json& json) requires readable_from_json<T> {
    if (json.is_null()) return std::nullopt;
    return value_traits<T>::from_json(json);
  }
};

}  // namespace torchsystem
