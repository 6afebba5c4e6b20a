// Helpers shared by the core's tests.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace test_support {

/// Passes when `text` contains `part`, and shows both when it does not.
inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

/// The exception of type E thrown by `action`, or nullopt when it throws nothing (another type propagates).
template <class E, class F>
std::optional<E> thrown(F&& action) {
  try {
    action();
  } catch (const E& error) {
    return error;
  }
  return std::nullopt;
}

}  // namespace test_support
