// LibTorch's error messages shortened for the library's own errors: the first line only.
//
// LibTorch's messages carry a C++ backtrace after their first line; an error that names a file, a
// configuration key or an HTTP input should quote only what went wrong. Shared by the checkpoint,
// training and server layers.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <string>
#include <string_view>

namespace torchsystem::detail {

/// The first non-blank line of `text`, without a trailing ':' that introduced the lines left out.
/// LibTorch's TorchScript errors start with a line break, so the plain first line would be empty.
inline std::string first_line(std::string_view text) {
  const auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return {};
  text.remove_prefix(start);
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == ':' || text.back() == ' ' || text.back() == '\r'))
    text.remove_suffix(1);
  return std::string(text);
}

/// The first line of an exception's message, without LibTorch's backtrace; never empty, so that an
/// error built from it always says something.
inline std::string message_of(const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  std::string line = first_line(torch_error ? torch_error->what_without_backtrace() : error.what());
  return line.empty() ? std::string("LibTorch failed without a message") : line;
}

}  // namespace torchsystem::detail
