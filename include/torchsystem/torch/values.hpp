// Parameter types PyTorch's signatures use that plain C++ types do not describe: `int or tuple` sizes
// (kernel_size=3 or kernel_size=(3, 5)) and convolution padding (an int, a tuple, "same" or "valid").
//
// Each keeps the form it was given, because Python's identity records arguments as passed:
// `Conv2d(3, 16, 3)` records `"kernel_size": 3`, `Conv2d(3, 16, (3, 3))` records `[3, 3]`, and the
// two must hash differently, as they do in Python.
//
// Tensor-valued hyperparameters (a loss's class `weight`) are recorded as nested lists of their values,
// and an undefined tensor as null (Python's None). Python cannot json.dumps a tensor, so only the None
// case has a Python hash to match; recording the values keeps two losses with different weights apart.
// A list of tensors (an optimizer's parameters) has no JSON form: it travels in code only.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/expanding_array.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "torchsystem/value_traits.hpp"

namespace torchsystem {

template <>
struct value_traits<at::Tensor> {
  static constexpr std::string_view name = "Tensor";
  /// null for an undefined tensor, else the values as nested lists (a number for a 0-dim tensor).
  static Json to_json(const at::Tensor& tensor);
  /// null gives an undefined tensor; a number or rectangular nested list gives a float32 tensor.
  static at::Tensor from_json(const Json& json);
};

/// Tensors in a list are model state (an optimizer's parameters), never a configuration value.
template <>
struct value_traits<std::vector<at::Tensor>> {
  static constexpr std::string_view name = "list[Tensor]";
};

/// A T or a tuple of T (of exactly N elements, or of any length when N is 0), as given.
template <class T, std::size_t N>
class OneOrTuple {
 public:
  OneOrTuple(T value) : values_{value}, scalar_(true) {}  // NOLINT: implicit, like Python's int
  OneOrTuple(std::vector<T> values) : values_(std::move(values)), scalar_(false) {}  // NOLINT

  bool is_scalar() const noexcept { return scalar_; }
  const std::vector<T>& values() const noexcept { return values_; }
  /// The values expanded to D dimensions, as LibTorch's options take them.
  template <std::size_t D>
  torch::ExpandingArray<D, T> expand() const {
    if (scalar_) return torch::ExpandingArray<D, T>(values_.front());
    return torch::ExpandingArray<D, T>(values_);
  }
  std::vector<T> as_vector(std::size_t dimensions) const {
    return scalar_ ? std::vector<T>(dimensions, values_.front()) : values_;
  }

 private:
  std::vector<T> values_;
  bool scalar_;
};

template <class T, std::size_t N>
struct value_traits<OneOrTuple<T, N>> {
  static constexpr std::string_view name = std::same_as<T, double> ? "float | tuple" : "int | tuple";
  static Json to_json(const OneOrTuple<T, N>& value) {
    if (value.is_scalar()) return value_traits<T>::to_json(value.values().front());
    return value_traits<std::vector<T>>::to_json(value.values());
  }
  static OneOrTuple<T, N> from_json(const Json& json) {
    if (!json.is_array()) return OneOrTuple<T, N>(read_element(json));
    if (N != 0 && json.size() != N) conversion_error(expected(), json);
    if (N == 0 && json.empty()) conversion_error(expected(), json);
    std::vector<T> values;
    for (const Json& element : json) values.push_back(read_element(element));
    return OneOrTuple<T, N>(std::move(values));
  }

 private:
  static std::string expected() {
    const std::string element(value_traits<T>::name);
    return element + " or tuple of " + (N ? std::to_string(N) + " " : "") + element + "s";
  }
  static T read_element(const Json& json) {
    try {
      return value_traits<T>::from_json(json);
    } catch (const ArgumentError&) {
      conversion_error(expected(), json);
    }
  }
};

using IntOrTuple1 = OneOrTuple<std::int64_t, 1>;
using IntOrTuple2 = OneOrTuple<std::int64_t, 2>;
using IntOrTuple3 = OneOrTuple<std::int64_t, 3>;
using IntOrTupleAny = OneOrTuple<std::int64_t, 0>;
using FloatOrTupleAny = OneOrTuple<double, 0>;

/// A convolution's padding: an int, a tuple of N ints, "same" or "valid", as given.
template <std::size_t N>
class ConvPadding {
 public:
  ConvPadding(std::int64_t value) : value_(OneOrTuple<std::int64_t, N>(value)) {}  // NOLINT
  ConvPadding(std::vector<std::int64_t> values)
      : value_(OneOrTuple<std::int64_t, N>(std::move(values))) {}  // NOLINT
  ConvPadding(std::string mode) : value_(std::move(mode)) {}       // NOLINT: "same" or "valid"

  const std::variant<OneOrTuple<std::int64_t, N>, std::string>& value() const noexcept { return value_; }

 private:
  std::variant<OneOrTuple<std::int64_t, N>, std::string> value_;
};

template <std::size_t N>
struct value_traits<ConvPadding<N>> {
  static constexpr std::string_view name = "int | tuple | str";
  static Json to_json(const ConvPadding<N>& padding) {
    if (const auto* mode = std::get_if<std::string>(&padding.value())) return *mode;
    return value_traits<OneOrTuple<std::int64_t, N>>::to_json(std::get<0>(padding.value()));
  }
  static ConvPadding<N> from_json(const Json& json) {
    if (json.is_string()) {
      const auto& mode = json.get_ref<const std::string&>();
      if (mode == "same" || mode == "valid") return ConvPadding<N>(mode);
      conversion_error("int, tuple of " + std::to_string(N) + " ints, \"same\" or \"valid\"", json);
    }
    try {
      const auto size = value_traits<OneOrTuple<std::int64_t, N>>::from_json(json);
      return size.is_scalar() ? ConvPadding<N>(size.values().front()) : ConvPadding<N>(size.values());
    } catch (const ArgumentError&) {
      conversion_error("int, tuple of " + std::to_string(N) + " ints, \"same\" or \"valid\"", json);
    }
  }
};

}  // namespace torchsystem
