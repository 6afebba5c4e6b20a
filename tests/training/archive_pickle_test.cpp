// The check of a checkpoint's pickles (src/training/archive_pickle.hpp): pickles of every protocol are
// walked opcode by opcode in step, and the numbers LibTorch 1.13's unpickler sizes memory from are
// bounded by the pickle's size.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "archive_pickle.hpp"

namespace archive_pickle_test {

using torchsystem::training_detail::pickle_fault;

// pickle.dumps([1, "ab", {"x": 1.5, "y": (True, None, b"z")}, 2**70], protocol=P) for P = 2, 3, 4, 5:
// memo entries, short and long strings, bytes, a float, a GLOBAL, LONG1, and protocol 4's FRAME.
const std::vector<std::string>& python_pickles() {
  static const std::vector<std::string> pickles = {
      std::string("\x80\x02]q\x00(K\x01X\x02\x00\x00\x00"
                  "abq\x01}q\x02(X\x01\x00\x00\x00xq\x03G?"
                  "\xf8\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00yq\x04\x88Nc_codecs\x0a"
                  "encode\x0aq\x05X\x01\x00\x00\x00zq\x06X\x06\x00\x00\x00latin1q\x07\x86q\x08Rq\x09\x87q\x0a"
                  "u\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@e.",
                  110),
      std::string("\x80\x03]q\x00(K\x01X\x02\x00\x00\x00"
                  "abq\x01}q\x02(X\x01\x00\x00\x00xq\x03G?"
                  "\xf8\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00yq\x04\x88NC\x01zq\x05\x87q\x06u\x8a\x09\x00"
                  "\x00\x00\x00\x00\x00\x00\x00@e.",
                  70),
      std::string("\x80\x04\x95"
                  "4\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01\x8c\x02"
                  "ab\x94}\x94(\x8c\x01x\x94G?"
                  "\xf8\x00\x00\x00\x00\x00\x00\x8c\x01y\x94\x88NC\x01z\x94\x87\x94u\x8a\x09\x00\x00\x00\x00"
                  "\x00\x00\x00\x00@e.",
                  63),
      std::string("\x80\x05\x95"
                  "4\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01\x8c\x02"
                  "ab\x94}\x94(\x8c\x01x\x94G?"
                  "\xf8\x00\x00\x00\x00\x00\x00\x8c\x01y\x94\x88NC\x01z\x94\x87\x94u\x8a\x09\x00\x00\x00\x00"
                  "\x00\x00\x00\x00@e.",
                  63),
  };
  return pickles;
}

TEST(ArchivePickle, PicklesOfEveryProtocolPass) {
  for (const std::string& pickle : python_pickles()) EXPECT_EQ(pickle_fault(pickle), "");
}

// A LONG_BINPUT put where the walk should arrive at STOP is found at exactly that offset only if every
// opcode before it was stepped over by its true length.
TEST(ArchivePickle, TheWalkStaysInStepToTheEnd) {
  for (std::string pickle : python_pickles()) {
    ASSERT_EQ(pickle.back(), '.');
    pickle.pop_back();
    const std::size_t offset = pickle.size();
    pickle += std::string("r\xff\xff\xff\x7f.", 6);
    EXPECT_EQ(pickle_fault(pickle), "its opcode 0x72 at byte " + std::to_string(offset) +
                                        " stores memo entry 2147483647 of a pickle of " +
                                        std::to_string(pickle.size()) + " bytes");
  }
}

// The input fuzz/checkpoint_crc_fuzzer found: LONG_BINPUT 3,654,219,617 made LibTorch's unpickler ask
// for 58 GB (16 bytes a memo entry) before anything else was read.
TEST(ArchivePickle, MemoIndicesBeyondThePickleAreRefused) {
  EXPECT_EQ(pickle_fault(std::string("\x80\x02N"
                                     "r\x61\xf7\xce\xd9.",
                                     9)),
            "its opcode 0x72 at byte 3 stores memo entry 3654219617 of a pickle of 9 bytes");
  EXPECT_NE(pickle_fault(std::string("Nq\x05.", 4)), "") << "BINPUT too";
  EXPECT_EQ(pickle_fault(std::string("Nq\x05"
                                     "......",
                                     9)),
            "")
      << "within the pickle's size";
}

TEST(ArchivePickle, LengthsBeyondThePickleAreRefused) {
  EXPECT_EQ(pickle_fault(std::string("X\xff\xff\xff\xff"
                                     "ab.",
                                     8)),
            "its opcode 0x58 at byte 0 announces 4294967295 bytes where 3 remain");
  EXPECT_EQ(pickle_fault(std::string("\x80\x04\x8d\x00\x00\x00\x00\x00\x00\x00\x80.", 12)),
            "its opcode 0x8d at byte 2 announces 9223372036854775808 bytes where 1 remain");
  EXPECT_NE(pickle_fault(std::string("\x8c\x05"
                                     "abc.",
                                     6)),
            "")
      << "SHORT_BINUNICODE";
  EXPECT_NE(pickle_fault(std::string("B\x10\x00\x00\x00.", 6)), "") << "BINBYTES";
  EXPECT_NE(pickle_fault(std::string("\x8b\x10\x00\x00\x00.", 6)), "") << "LONG4";
  EXPECT_EQ(pickle_fault(std::string("X\x03\x00\x00\x00"
                                     "abc.",
                                     9)),
            "")
      << "exactly the bytes that remain";
}

TEST(ArchivePickle, WhatLibTorchReportsItselfIsLeftToIt) {
  EXPECT_EQ(pickle_fault(std::string("N.r\xff\xff\xff\xff", 7)), "") << "after STOP nothing is read";
  EXPECT_EQ(pickle_fault(std::string("\xffr\xff\xff\xff\xff", 6)), "") << "an opcode LibTorch refuses";
  EXPECT_EQ(pickle_fault(std::string("Nr\xff", 3)), "") << "a truncated argument";
  EXPECT_EQ(pickle_fault(""), "");
}

TEST(ArchivePickle, LineArgumentsAreSkippedWhole) {
  // GLOBAL takes two lines: the memo opcode inside its second line is not an opcode.
  EXPECT_EQ(pickle_fault(std::string("cmodule\nr\xff\xff\xff\xff\n.", 15)), "");
  EXPECT_NE(pickle_fault(std::string("cmodule\nname\nr\xff\xff\xff\xff.", 18)), "");
  EXPECT_EQ(pickle_fault(std::string("I12\nr\xff\xff\xff\xff", 9)),
            "its opcode 0x72 at byte 4 stores memo entry 4294967295 of a pickle of 9 bytes");
}

}  // namespace archive_pickle_test
