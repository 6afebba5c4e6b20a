#include "torchsystem/value_traits.hpp"

#include <charconv>
#include <cstdlib>

#include "torchsystem/identity.hpp"

namespace torchsystem {

std::string describe_json(const Json& value) {
  constexpr std::size_t limit = 60;
  std::string text;
  try {
    text = dumps(value);
  } catch (const Error&) {
    return "an unprintable " + std::string(value.type_name());
  }
  if (text.size() > limit) text = text.substr(0, limit - 3) + "...";
  return text;
}

void conversion_error(std::string_view expected, const Json& got) {
  throw ArgumentError("", "expected " + std::string(expected) + ", got " + describe_json(got));
}

void detail::rethrow_in_element(const ArgumentError& error, std::string_view where) {
  // Nested elements read as one subscript chain: `[1][0]: expected int, got "a"`.
  const std::string& reason = error.reason();
  const bool nested = reason.starts_with("[");
  throw ArgumentError(error.path(), std::string(where) + (nested ? "" : ": ") + reason);
}

double float_identity(float value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  double widened = 0;
  std::from_chars(buffer, result.ptr, widened);
  return widened;
}

}  // namespace torchsystem
