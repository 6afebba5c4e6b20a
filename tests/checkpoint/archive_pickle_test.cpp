// The check of a checkpoint's pickles (src/training/archive_pickle.hpp): pickles of every protocol are
// walked opcode by opcode in step; the numbers LibTorch 1.13's unpickler sizes memory from are bounded by
// the pickle's size, and storages and tensors by the records that hold their data.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archive_pickle.hpp"

namespace archive_pickle_test {

/// The archive of these tests: one storage record, data/0, of 24 bytes.
std::string pickle_fault(std::string_view pickle) {
  return torchsystem::checkpoint_detail::pickle_fault(pickle, [](std::string_view key) {
    return key == "0" ? std::optional<std::uint64_t>(24) : std::nullopt;
  });
}

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
  EXPECT_EQ(pickle_fault(std::string("X\x03\x00\x00\x00"
                                     "abc.",
                                     9)),
            "")
      << "exactly the bytes that remain";
}

TEST(ArchivePickle, WhatLibTorchReportsItselfIsLeftToIt) {
  EXPECT_EQ(pickle_fault(std::string("N.r\xff\xff\xff\xff", 7)), "") << "after STOP nothing is read";
  EXPECT_EQ(pickle_fault(std::string("Nr\xff", 3)), "") << "a truncated argument";
  EXPECT_EQ(pickle_fault(std::string("t.", 2)), "") << "a TUPLE without its MARK";
  EXPECT_EQ(pickle_fault(std::string("h\x03.", 3)), "") << "an unknown memo entry";
  EXPECT_EQ(pickle_fault(""), "");
}

// The walk keeps the unpickler's stack, so it cannot step over an opcode it does not model.
TEST(ArchivePickle, OpcodesLibTorchsArchivesNeverHoldAreRefused) {
  EXPECT_EQ(pickle_fault(std::string("N\xff.", 3)),
            "its opcode 0xff at byte 1 is not one LibTorch's archives hold");
  EXPECT_NE(pickle_fault(std::string("I12\n.", 5)), "") << "protocol 0's INT";
  EXPECT_NE(pickle_fault(std::string("\x93.", 2)), "") << "STACK_GLOBAL";
  EXPECT_NE(pickle_fault(std::string("\x8b\x01\x00\x00\x00\x01.", 7)), "") << "LONG4";
}

TEST(ArchivePickle, LineArgumentsAreSkippedWhole) {
  // GLOBAL takes two lines: the memo opcode inside its second line is not an opcode.
  EXPECT_EQ(pickle_fault(std::string("cmodule\nr\xff\xff\xff\xff\n.", 15)), "");
  EXPECT_NE(pickle_fault(std::string("cmodule\nname\nr\xff\xff\xff\xff.", 18)), "");
  EXPECT_EQ(pickle_fault(std::string("cmodule\nname\nr\xff\xff\xff\xff", 18)),
            "its opcode 0x72 at byte 13 stores memo entry 4294967295 of a pickle of 18 bytes");
}

/// A pickle as LibTorch writes a tensor: torch._utils._rebuild_tensor_v2(storage, offset, sizes,
/// strides, False, OrderedDict()), the storage being ('storage', torch.<type>, '0', 'cpu', elements).
std::string tensor_pickle(std::uint8_t elements, std::uint8_t offset,
                          const std::vector<std::pair<std::uint8_t, std::uint8_t>>& dimensions,
                          const std::string& type = "FloatStorage",
                          const std::string& rebuild = "_rebuild_tensor_v2") {
  const auto int1 = [](std::uint8_t value) { return std::string("K") + static_cast<char>(value); };
  std::string pickle = std::string("\x80\x02") + "ctorch._utils\n" + rebuild + "\nq" + std::string(1, '\0');
  pickle += "((X" + std::string("\x07\0\0\0", 4) + "storage" + "ctorch\n" + type + "\n";
  pickle += "X" + std::string("\x01\0\0\0", 4) + "0" + "X" + std::string("\x03\0\0\0", 4) + "cpu";
  pickle += int1(elements) + "tQ" + int1(offset) + "(";
  for (const auto& dimension : dimensions) pickle += int1(dimension.first);
  pickle += "t(";
  for (const auto& dimension : dimensions) pickle += int1(dimension.second);
  pickle +=
      "t\x89"
      "ccollections\nOrderedDict\n)RtR.";
  return pickle;
}

/// How a fault about the storage reference (BINPERSID, 0x51) of a tensor_pickle begins.
std::string at_reference(const std::string& pickle) {
  return "its opcode 0x51 at byte " + std::to_string(pickle.find("tQ") + 1) + " ";
}

TEST(ArchivePickle, TensorsWithinTheirStorageAndStoragesWithinTheirRecordPass) {
  EXPECT_EQ(pickle_fault(tensor_pickle(6, 0, {{3, 2}, {2, 1}})), "");
  EXPECT_EQ(pickle_fault(tensor_pickle(6, 3, {{3, 1}})), "") << "the last three elements";
  EXPECT_EQ(pickle_fault(tensor_pickle(6, 5, {})), "") << "a scalar, the last element";
  EXPECT_EQ(pickle_fault(tensor_pickle(6, 0, {{2, 3}, {3, 1}, {1, 0}})), "")
      << "a stride of 0 and a size of 1";
  EXPECT_EQ(pickle_fault(tensor_pickle(0, 200, {{0, 1}})), "") << "no element, so nothing is read";
  EXPECT_EQ(pickle_fault(tensor_pickle(3, 0, {{3, 1}}, "DoubleStorage")), "");
  EXPECT_EQ(pickle_fault(tensor_pickle(24, 0, {{24, 1}}, "BoolStorage")), "");
}

// The inputs LibTorch 1.13 loads without a word, its tensors then reading past their data.
TEST(ArchivePickle, StoragesLargerThanTheirRecordAreRefused) {
  const std::string seven = tensor_pickle(7, 0, {{7, 1}});
  EXPECT_EQ(pickle_fault(seven),
            at_reference(seven) + "gives storage '0' 7 elements of 4 bytes, where its record has 24 bytes");
  EXPECT_NE(pickle_fault(tensor_pickle(4, 0, {{4, 1}}, "DoubleStorage")), "");
  EXPECT_NE(pickle_fault(tensor_pickle(255, 0, {{2, 1}})), "");
}

TEST(ArchivePickle, TensorsReachingPastTheirStorageAreRefused) {
  const std::string past = "its opcode 0x52 at byte ";
  for (const std::string& pickle :
       {tensor_pickle(6, 1, {{3, 2}, {2, 1}}), tensor_pickle(6, 0, {{3, 3}, {2, 1}}), tensor_pickle(6, 6, {}),
        tensor_pickle(6, 200, {{1, 1}}), tensor_pickle(6, 0, {{7, 1}}),
        tensor_pickle(6, 0, {{2, 255}, {2, 255}})}) {
    const std::string fault = pickle_fault(pickle);
    EXPECT_TRUE(fault.starts_with(past) &&
                fault.ends_with(" rebuilds a tensor that reaches past its storage"))
        << fault;
  }
}

TEST(ArchivePickle, StorageReferencesAndTensorsOfOtherFormsAreRefused) {
  const std::string quantized = tensor_pickle(6, 0, {{6, 1}}, "QInt8Storage");
  EXPECT_EQ(pickle_fault(quantized),
            at_reference(quantized) + "refers to a storage of type torch.QInt8Storage");
  EXPECT_NE(pickle_fault(tensor_pickle(6, 0, {{6, 1}}, "FloatStorage", "_rebuild_qtensor")), "");
  std::string other_key = tensor_pickle(6, 0, {{6, 1}});
  other_key.replace(other_key.find("X\x01\0\0\0"
                                   "0"),
                    6, std::string("X\x01\0\0\0", 5) + "9");
  EXPECT_EQ(pickle_fault(other_key), at_reference(other_key) + "refers to storage '9', which has no record");
  EXPECT_NE(pickle_fault(std::string("(K\x01tQ.", 6)), "") << "a persistent id that is no storage";
  EXPECT_NE(pickle_fault(std::string("ctorch._utils\n_rebuild_tensor_v2\nNR.", 36)), "")
      << "a tensor without a storage";
}

}  // namespace archive_pickle_test
