// Runs an example program once per test suite; its tests then read what it printed.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

namespace example_output {

/// The standard output of `command` (run by the shell), and its exit status.
struct CommandResult {
  std::string output;
  int status = -1;
};

inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) result.output += buffer.data();
  result.status = pclose(pipe);
  return result;
}

template <const char* const& Program>
class ExampleOutput : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    const CommandResult result = run_command(Program);
    output_ = result.output;
    status_ = result.status;
  }
  static bool prints(const std::string& text) { return output_.find(text) != std::string::npos; }
  static inline std::string output_;
  static inline int status_ = -1;
};

}  // namespace example_output
