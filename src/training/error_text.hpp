// Messages of exceptions from LibTorch, shortened for the training layer's own errors.
//
// LibTorch's messages carry a C++ backtrace after their first line; an error that names a file or a
// configuration key should quote only what went wrong.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <string>
#include <string_view>

namespace torchsystem::training_detail {

/// The first line of `text`.
inline std::string first_line(std::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

/// The first line of an exception's message, without LibTorch's backtrace.
inline std::string message_of(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error))
    return first_line(torch_error->what_without_backtrace());
  return first_line(error.what());
}

}  // namespace torchsystem::training_detail
