// Keyword arguments that read like a Python call: `"dropout"_a = 0.5`.
//
// The same spelling serves two places: in a call (`create<MLP>(784, 256, 10, "dropout"_a = 0.5)`) it passes
// an argument by name; in a registration (`register_class<MLP(int, int, int, double)>("input_size", ...,
// "dropout"_a = 0.5)`) it declares a parameter with its default.
#pragma once

#include <string_view>
#include <type_traits>
#include <utility>

namespace torchsystem {

/// A named value: a keyword argument in a call, or a parameter with a default in a registration.
template <class V>
struct KeywordValue {
  std::string_view name;
  V value;
};

/// A parameter or keyword name. Assigning a value to it makes a KeywordValue.
struct Arg {
  std::string_view name;

  constexpr explicit Arg(std::string_view n) : name(n) {}

  template <class V>
  KeywordValue<std::decay_t<V>> operator=(V&& value) const {
    return {name, std::forward<V>(value)};
  }
  // String literals are kept as text, not as a pointer to their first character.
  KeywordValue<std::string_view> operator=(const char* value) const { return {name, value}; }
};

/// Spells a keyword without the literal operator: `arg("dropout") = 0.5`.
constexpr Arg arg(std::string_view name) {
  return Arg(name);
}

namespace literals {
constexpr Arg operator""_a(const char* name, std::size_t size) {
  return Arg(std::string_view(name, size));
}
}  // namespace literals

namespace detail {
template <class T>
struct is_keyword_value : std::false_type {};
template <class V>
struct is_keyword_value<KeywordValue<V>> : std::true_type {};
template <class T>
inline constexpr bool is_keyword_value_v = is_keyword_value<std::remove_cvref_t<T>>::value;
}  // namespace detail

}  // namespace torchsystem
