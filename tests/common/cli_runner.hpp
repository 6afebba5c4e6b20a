// Runs the `torchsystem` program as a separate process, the way users and scripts run it.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace cli_runner {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline std::string shell_quote(const std::string& argument) {
  std::string quoted = "'";
  for (const char c : argument) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

struct Outcome {
  int status = -1;  // the exit status; -1 when the process did not exit normally
  std::string out;
  std::string err;
};

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "torchsystem-cli-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::filesystem::path path(const std::string& name) const { return dir_ / name; }

  // Runs the program with `arguments` (each passed as one argv entry) and `input` on standard input.
  Outcome run(const std::vector<std::string>& arguments, const std::string& input = "") {
    write_file(path("stdin"), input);
    // Appended piece by piece: g++ 12 gives a false -Wrestrict warning for `"literal" + std::string`.
    std::string command = shell_quote(TORCHSYSTEM_CLI);
    for (const std::string& argument : arguments) command.append(" ").append(shell_quote(argument));
    command.append(" <").append(shell_quote(path("stdin").string()));
    command.append(" >").append(shell_quote(path("stdout").string()));
    command.append(" 2>").append(shell_quote(path("stderr").string()));
    const int raw = std::system(command.c_str());
    Outcome result;
    result.status = (raw != -1 && WIFEXITED(raw)) ? WEXITSTATUS(raw) : -1;
    result.out = read_file(path("stdout"));
    result.err = read_file(path("stderr"));
    return result;
  }

  std::filesystem::path dir_;
};

}  // namespace cli_runner
