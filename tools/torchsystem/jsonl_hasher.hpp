// The `torchsystem hash --jsonl` batch reader, apart from the process: it reads JSON lines from a stream
// in blocks, hashes each line and hands the output to a callback. Keeping it out of hash_command.cpp lets
// the tests and the fuzz target run it in memory, with any block size, to exercise lines split across
// blocks.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "torchsystem/json.hpp"

namespace torchsystem::cli {

/// "null", "a boolean", "an integer", ...: the JSON type of `value`, for messages.
std::string_view describe_type(const Json& value);

/// How a batch went: line numbers count from 1; first_failed is 0 when no line failed.
struct JsonlSummary {
  std::size_t lines = 0;
  std::size_t failed = 0;
  std::size_t first_failed = 0;
};

/// The block size the CLI reads with.
inline constexpr std::size_t jsonl_block_size = std::size_t{1} << 20;

/// Reads `input` to its end in blocks of `block_size` bytes (at least 1) and hashes every line:
/// {"name": NAME, "arguments": {...}} gives the hash, anything else "error: REASON"; a final CR is
/// dropped, and a last line without a newline counts. Writes one output line per input line, in order,
/// through `write`, in pieces of about 1 MiB. Throws std::runtime_error naming `display` when the
/// stream reports a read error.
JsonlSummary hash_jsonl_stream(std::FILE* input, std::string_view display, std::size_t block_size,
                               const std::function<void(std::string_view)>& write);

}  // namespace torchsystem::cli
