// What the fuzz targets share: failing loudly on a broken invariant, and comparing JSON values exactly.
//
// A target reports a broken invariant by printing it and aborting: libFuzzer then saves the input as a
// crash. The same code runs in the ordinary build's corpus replay, where the abort fails the CTest.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>

#include "torchsystem/json.hpp"

namespace torchsystem::fuzz {

/// Prints `what` and aborts: the invariant the target checks does not hold for this input.
[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "fuzz invariant broken: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

inline void check(bool holds, std::string_view what) {
  if (!holds) fail(what);
}

/// Takes typed values from the fuzzer's bytes, front to back, and zeros once they run out. (libFuzzer's
/// FuzzedDataProvider does the same, but its header comes with clang, and the corpus replays of the
/// ordinary build must compile without it.)
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::size_t remaining() const { return size_; }

  template <class T>
  T integral() {
    static_assert(std::is_integral_v<T>);
    std::make_unsigned_t<T> value = 0;
    for (std::size_t i = 0; i < sizeof(T) && size_ > 0; ++i, ++data_, --size_)
      value = static_cast<std::make_unsigned_t<T>>((value << 8) | *data_);
    return static_cast<T>(value);
  }

  /// A value in [low, high] (high - low must fit in 32 bits).
  template <class T>
  T in_range(T low, T high) {
    const auto span = static_cast<std::uint64_t>(high - low) + 1;
    return static_cast<T>(low + static_cast<T>(integral<std::uint32_t>() % span));
  }

  bool boolean() { return (integral<std::uint8_t>() & 1) != 0; }

  /// Up to `max` bytes of any value; a byte 0xff ends the string early, so the fuzzer picks lengths.
  std::string string(std::size_t max) {
    std::string text;
    while (text.size() < max && size_ > 0) {
      const auto byte = integral<std::uint8_t>();
      if (byte == 0xff) break;
      text += static_cast<char>(byte);
    }
    return text;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

/// True when `a` and `b` are the same value as Python's json.loads would give: integers compare by value
/// whether stored signed or unsigned, floats bit for bit (so -0.0 differs from 0.0, and NaN equals
/// NaN), an integer never equals a float, and objects compare key order too (the identity text does).
inline bool same_value(const Json& a, const Json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    const bool a_negative = a.is_number_unsigned() ? false : a.get<std::int64_t>() < 0;
    const bool b_negative = b.is_number_unsigned() ? false : b.get<std::int64_t>() < 0;
    if (a_negative != b_negative) return false;
    return a_negative ? a.get<std::int64_t>() == b.get<std::int64_t>()
                      : a.get<std::uint64_t>() == b.get<std::uint64_t>();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Json::value_t::number_float: {
      const double x = a.get<double>(), y = b.get<double>();
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
      return std::bit_cast<std::uint64_t>(x) == std::bit_cast<std::uint64_t>(y);
    }
    case Json::value_t::array: {
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i)
        if (!same_value(a[i], b[i])) return false;
      return true;
    }
    case Json::value_t::object: {
      if (a.size() != b.size()) return false;
      auto j = b.begin();
      for (auto i = a.begin(); i != a.end(); ++i, ++j)
        if (i.key() != j.key() || !same_value(i.value(), j.value())) return false;
      return true;
    }
    default:
      return a == b;
  }
}

}  // namespace torchsystem::fuzz
