// Fuzz target: the `torchsystem hash --jsonl` reader (tools/torchsystem/jsonl_hasher.hpp). The bytes are
// the input file. They are read whole, one byte at a time, and in small blocks whose size the first
// byte chooses, so that lines, CR LF pairs and UTF-8 sequences are split across blocks at every place.
// Every reading must give the same output and summary; the output must hold exactly one line per input
// line, each a 32-digit hash or "error: ..."; and for short inputs each output line must be what that
// input line gives on its own.
#include <stdio.h>  // NOLINT(modernize-deprecated-headers): POSIX declares fmemopen here, not in <cstdio>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "jsonl_hasher.hpp"

namespace torchsystem::fuzz {
namespace {

struct Result {
  std::string out;
  cli::JsonlSummary summary;
};

Result run(std::string_view input, std::size_t block_size) {
  // fmemopen does not write through a read-only stream; it needs a non-null buffer even when empty.
  static char empty = 0;
  void* buffer = input.empty() ? &empty : const_cast<char*>(input.data());
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(::fmemopen(buffer, input.size(), "r"),
                                                               &std::fclose);
  check(stream != nullptr, "fmemopen failed");
  Result result;
  try {
    result.summary = cli::hash_jsonl_stream(stream.get(), "fuzz input", block_size,
                                            [&](std::string_view piece) { result.out += piece; });
  } catch (const std::runtime_error& e) {
    fail(std::string("reading memory failed: ") + e.what());
  }
  return result;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t newline = 0; (newline = text.find('\n', start)) != std::string_view::npos;
       start = newline + 1)
    lines.push_back(text.substr(start, newline - start));
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

bool is_hash(std::string_view line) {
  return line.size() == 32 && line.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

void check_same(const Result& a, const Result& b, std::string_view what) {
  check(a.out == b.out, std::string("output differs ") + std::string(what));
  check(a.summary.lines == b.summary.lines && a.summary.failed == b.summary.failed &&
            a.summary.first_failed == b.summary.first_failed,
        std::string("summary differs ") + std::string(what));
}

}  // namespace
}  // namespace torchsystem::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace torchsystem::fuzz;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Result whole = run(input, size + 1);

  const auto input_lines = split_lines(input);
  const auto output_lines = split_lines(whole.out);
  check(whole.out.empty() || whole.out.back() == '\n', "output does not end with a newline");
  check(output_lines.size() == input_lines.size(), "output lines differ in number from input lines");
  check(whole.summary.lines == input_lines.size(), "summary counts another number of lines");
  std::size_t failed = 0;
  for (const auto line : output_lines) {
    if (line.starts_with("error: "))
      ++failed;
    else
      check(is_hash(line), "an output line is neither a hash nor an error");
  }
  check(whole.summary.failed == failed, "summary counts another number of failed lines");

  check_same(run(input, 1), whole, "when read one byte at a time");
  const std::size_t small = size == 0 ? 1 : 1 + data[0] % 23;
  check_same(run(input, small), whole, "when read in small blocks");

  if (input_lines.size() <= 64) {
    for (std::size_t i = 0; i < input_lines.size(); ++i) {
      const std::string line = std::string(input_lines[i]) + "\n";
      const Result alone = run(line, line.size() + 1);
      check(alone.out == std::string(output_lines[i]) + "\n", "a line gives another output in a batch");
    }
  }
  return 0;
}
