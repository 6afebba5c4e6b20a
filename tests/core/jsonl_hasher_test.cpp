// The `--jsonl` batch reader in memory (tools/torchsystem/jsonl_hasher.hpp): the output does not depend
// on the block size, lines split across blocks at any byte (CR LF pairs and UTF-8 sequences included),
// and a long line read in tiny blocks costs linear time.
#include <gtest/gtest.h>
#include <stdio.h>  // NOLINT(modernize-deprecated-headers): POSIX declares fmemopen here, not in <cstdio>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "jsonl_hasher.hpp"

namespace torchsystem::cli {
namespace {

struct Batch {
  std::string out;
  JsonlSummary summary;
};

Batch hash_in_memory(const std::string& input, std::size_t block_size) {
  static char empty = 0;
  void* buffer = input.empty() ? &empty : const_cast<char*>(input.data());
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(::fmemopen(buffer, input.size(), "r"),
                                                               &std::fclose);
  EXPECT_NE(stream, nullptr);
  Batch batch;
  batch.summary = hash_jsonl_stream(stream.get(), "memory", block_size,
                                    [&](std::string_view piece) { batch.out += piece; });
  return batch;
}

std::string vectors() {
  std::ifstream in(std::filesystem::path(TORCHSYSTEM_TEST_DATA) / "python-identity.jsonl", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(JsonlHasher, OutputDoesNotDependOnTheBlockSize) {
  const std::string input = vectors() + "{\"name\": \"caf\xc3\xa9\"}\r\nnot json\r\n\r\n{\"name\": \"last\"}";
  const Batch whole = hash_in_memory(input, jsonl_block_size);
  EXPECT_GT(whole.summary.lines, 3U);
  EXPECT_EQ(whole.summary.failed, 2U);
  for (const std::size_t block : {1, 2, 3, 5, 7, 64, 4096}) {
    const Batch split = hash_in_memory(input, block);
    EXPECT_EQ(split.out, whole.out) << "block size " << block;
    EXPECT_EQ(split.summary.lines, whole.summary.lines) << "block size " << block;
    EXPECT_EQ(split.summary.first_failed, whole.summary.first_failed) << "block size " << block;
  }
}

TEST(JsonlHasher, OneOutputLinePerInputLine) {
  const Batch batch = hash_in_memory("\n\r\n{\"name\": \"Model\"}\n\r", 2);
  EXPECT_EQ(batch.summary.lines, 4U);
  EXPECT_EQ(batch.summary.failed, 3U);
  EXPECT_EQ(batch.summary.first_failed, 1U);
  EXPECT_EQ(std::count(batch.out.begin(), batch.out.end(), '\n'), 4);
  EXPECT_EQ(hash_in_memory("", 1).out, "");
}

// Regression: the reader searched the whole kept buffer for a newline after every block, so a line of
// n bytes read in blocks of b bytes cost n * n / (2 b) byte comparisons: about 3 * 10^13 here, far
// beyond the test's timeout, and for the CLI's 1 MiB blocks a 1 GiB line scanned 512 GiB. It now
// searches only the bytes just read, and this takes well under a second.
TEST(JsonlHasher, LongLineInTinyBlocksIsReadInLinearTime) {
  const std::string line =
      R"({"name": "Model", "arguments": {"x": ")" + std::string(std::size_t{8} << 20, 'a') + R"("}})";
  const Batch batch = hash_in_memory(line + "\n{}", 1);
  EXPECT_EQ(batch.summary.lines, 2U);
  EXPECT_EQ(batch.summary.failed, 1U);
  EXPECT_EQ(batch.out, hash_in_memory(line + "\n{}", jsonl_block_size).out);
}

}  // namespace
}  // namespace torchsystem::cli
