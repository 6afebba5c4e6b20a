// The pickle subset of torch.save (src/training/pickle.hpp): round trips, what Python writes, and every
// refusal of a hostile pickle naming its fault.
#include "pickle.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pickle_test {

namespace td = torchsystem::checkpoint_detail;
using Kind = td::PyNode::Kind;

/// Every storage key has a record of `bytes` bytes.
td::StorageSize records_of(std::uint64_t bytes) {
  return [bytes](std::string_view) { return std::optional<std::uint64_t>(bytes); };
}

std::string load_error(std::string_view pickle, const td::StorageSize& sizes = records_of(24)) {
  try {
    td::pickle_load(pickle, sizes);
  } catch (const td::PickleError& error) {
    return error.what();
  }
  return "(no error)";
}

// `data.pkl` of what Python 1.13's torch.save wrote for {'epoch': 1, 'nn': OrderedDict(w=torch.zeros(2, 3))}
// with a state dict's `_metadata` attribute (a BUILD), byte for byte.
std::string python_pickle() {
  static const char bytes[] =
      "\x80\x02\x7d\x71\x00\x28\x58\x05\x00\x00\x00\x65\x70\x6f\x63\x68\x71\x01\x4b\x01\x58\x02\x00\x00"
      "\x00\x6e\x6e\x71\x02\x63\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65"
      "\x64\x44\x69\x63\x74\x0a\x71\x03\x29\x52\x71\x04\x58\x01\x00\x00\x00\x77\x71\x05\x63\x74\x6f\x72"
      "\x63\x68\x2e\x5f\x75\x74\x69\x6c\x73\x0a\x5f\x72\x65\x62\x75\x69\x6c\x64\x5f\x74\x65\x6e\x73\x6f"
      "\x72\x5f\x76\x32\x0a\x71\x06\x28\x28\x58\x07\x00\x00\x00\x73\x74\x6f\x72\x61\x67\x65\x71\x07\x63"
      "\x74\x6f\x72\x63\x68\x0a\x46\x6c\x6f\x61\x74\x53\x74\x6f\x72\x61\x67\x65\x0a\x71\x08\x58\x01\x00"
      "\x00\x00\x30\x71\x09\x58\x03\x00\x00\x00\x63\x70\x75\x71\x0a\x4b\x06\x74\x71\x0b\x51\x4b\x00\x4b"
      "\x02\x4b\x03\x86\x71\x0c\x4b\x03\x4b\x01\x86\x71\x0d\x89\x68\x03\x29\x52\x71\x0e\x74\x71\x0f\x52"
      "\x71\x10\x73\x7d\x71\x11\x58\x09\x00\x00\x00\x5f\x6d\x65\x74\x61\x64\x61\x74\x61\x71\x12\x68\x03"
      "\x29\x52\x71\x13\x58\x00\x00\x00\x00\x71\x14\x7d\x71\x15\x58\x07\x00\x00\x00\x76\x65\x72\x73\x69"
      "\x6f\x6e\x71\x16\x4b\x01\x73\x73\x73\x62\x75\x2e";
  return std::string(bytes, 252);
}

TEST(Pickle, ReadsWhatPythonWrites) {
  const std::string pickle = python_pickle();
  const td::PyTree tree = td::pickle_load(pickle, records_of(24));
  ASSERT_EQ(tree.root->kind, Kind::dict);
  ASSERT_EQ(tree.root->find("epoch")->integer, 1);
  const td::PyNode* nn = tree.root->find("nn");
  ASSERT_TRUE(nn->ordered);
  const td::PyNode* w = nn->find("w");
  ASSERT_EQ(w->kind, Kind::tensor);
  EXPECT_EQ(w->tensor.storage_type, "FloatStorage");
  EXPECT_EQ(w->tensor.storage_key, "0");
  EXPECT_EQ(w->tensor.sizes, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(w->tensor.strides, (std::vector<std::int64_t>{3, 1}));
  EXPECT_EQ(tree.storages.at("0"), (std::pair<std::string, std::uint64_t>{"FloatStorage", 6}));
}

TEST(Pickle, RoundTripsEveryKind) {
  td::PyTree tree;
  td::PyNode* root = tree.dict();
  tree.set(root, "none", tree.none());
  tree.set(root, "true", tree.boolean(true));
  for (const std::int64_t value : {std::int64_t{0}, std::int64_t{255}, std::int64_t{256}, std::int64_t{65536},
                                   std::int64_t{-1}, std::int64_t{1} << 40, INT64_MIN, INT64_MAX})
    tree.set(root, "int" + std::to_string(value), tree.integer(value));
  tree.set(root, "float", tree.floating(0.1));
  tree.set(root, "str", tree.string("é\n"));
  tree.set(root, "tuple", tree.tuple({tree.floating(0.9), tree.floating(0.999)}));
  tree.set(root, "list", tree.list({tree.integer(0), tree.integer(1)}));
  tree.root = root;
  td::PyTree::set(root, tree.integer(7), tree.dict(true));
  td::PyTensor tensor{"0", "LongStorage", 3, 0, {3}, {1}, false};
  tree.set(root, "tensor", tree.tensor(tensor));

  const td::PyTree back = td::pickle_load(td::pickle_dump(tree), records_of(24));
  ASSERT_EQ(back.root->entries.size(), root->entries.size());
  EXPECT_EQ(back.root->find("none")->kind, Kind::none);
  EXPECT_TRUE(back.root->find("true")->boolean);
  for (const std::int64_t value : {std::int64_t{0}, std::int64_t{255}, std::int64_t{256}, std::int64_t{65536},
                                   std::int64_t{-1}, std::int64_t{1} << 40, INT64_MIN, INT64_MAX})
    EXPECT_EQ(back.root->find("int" + std::to_string(value))->integer, value);
  EXPECT_EQ(back.root->find("float")->floating, 0.1);
  EXPECT_EQ(back.root->find("str")->string, "é\n");
  EXPECT_EQ(back.root->find("tuple")->items[1]->floating, 0.999);
  EXPECT_EQ(back.root->find("list")->kind, Kind::list);
  EXPECT_EQ(back.root->entries[back.root->entries.size() - 2].first->integer, 7);
  EXPECT_EQ(back.root->find("tensor")->tensor.sizes, (std::vector<std::int64_t>{3}));
}

TEST(Pickle, JsonRoundTrip) {
  const auto json = torchsystem::Json::parse(R"({"a": [1, 2.5, "x", null, true], "b": {"c": -3}})");
  td::PyTree tree;
  tree.root = td::from_json(tree, json);
  const td::PyTree back = td::pickle_load(td::pickle_dump(tree), records_of(0));
  EXPECT_EQ(td::to_json(back.root).dump(), json.dump());
}

TEST(Pickle, RefusesGlobalsBeyondTorchSave) {
  EXPECT_EQ(load_error("\x80\x02"
                       "cos\nsystem\n."),
            "the global \"os.system\" is not one torch.save writes for tensors and containers (at byte 2)");
  EXPECT_EQ(
      load_error("\x80\x02"
                 "ctorch.nn.modules.linear\nLinear\n."),
      "the global \"torch.nn.modules.linear.Linear\" is not one torch.save writes for tensors and containers "
      "(at byte 2)");
}

TEST(Pickle, RefusesOpcodesBeyondTorchSave) {
  EXPECT_EQ(load_error("\x80\x02i"), "the opcode 0x69 is not one torch.save writes (at byte 2)");  // INST
  EXPECT_EQ(load_error(std::string("\x80\x02\x82\x01", 4)),
            "the opcode 0x82 is not one torch.save writes (at byte 2)");
}

TEST(Pickle, RefusesStructuralFaults) {
  EXPECT_EQ(load_error("\x80\x02}"), "the pickle ends without STOP (at byte 3)");
  EXPECT_EQ(load_error("\x80\x02}}."), "STOP with 2 values on the stack, not one (at byte 4)");
  EXPECT_EQ(load_error("\x80\x02}.x"), "bytes follow STOP (at byte 3)");
  EXPECT_EQ(load_error("\x80\x02X\xff\xff\xff\x7f"),
            "an argument runs past the end of the pickle (at byte 2)");
  EXPECT_EQ(load_error(std::string("\x80\x02}r\xff\xff\xff\x7f.", 9)),
            "memo index 2147483647 is larger than the pickle (at byte 3)");
  EXPECT_EQ(load_error("\x80\x02h\x05."), "memo index 5 was never stored (at byte 2)");
  EXPECT_EQ(load_error("\x80\x02"
                       "a."),
            "an opcode needs a value and the stack has none (at byte 2)");
  EXPECT_EQ(load_error("\x80\x02)Na."), "APPEND to something other than a list (at byte 4)");
  EXPECT_EQ(load_error("\x80\x02}(N)u."), "a dict key that is neither a str nor an int (at byte 6)");
  EXPECT_EQ(load_error("\x80\x02}}b."),
            "BUILD of something other than an OrderedDict's attributes (at byte 4)");
  EXPECT_EQ(load_error(std::string("\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.", 14)),
            "an integer of 9 bytes (more than 64 bits) (at byte 2)");
}

/// `_rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', numel), offset, size, stride, False, {})`.
std::string tensor_pickle(int numel, int offset, int size, int stride,
                          const std::string& id_head = "storage") {
  std::string p =
      "\x80\x02"
      "ctorch._utils\n_rebuild_tensor_v2\n((X";
  p += static_cast<char>(id_head.size());
  p += std::string(3, '\0') + id_head;
  p += "ctorch\nFloatStorage\nX\x01";
  p += std::string(3, '\0') + "0X\x03" + std::string(3, '\0') + "cpuK";
  p += static_cast<char>(numel);
  p += "tQK";
  p += static_cast<char>(offset);
  p += "K";
  p += static_cast<char>(size);
  p += "\x85K";
  p += static_cast<char>(stride);
  p += "\x85\x89}tR.";
  return p;
}

TEST(Pickle, ChecksStoragesAndTensors) {
  EXPECT_NO_THROW(td::pickle_load(tensor_pickle(6, 0, 6, 1), records_of(24)));
  EXPECT_EQ(load_error(tensor_pickle(6, 0, 6, 1), records_of(20)),
            "storage \"0\" of 6 elements of 4 bytes does not fit its record of 20 bytes (at byte 86)");
  EXPECT_EQ(
      load_error(tensor_pickle(6, 0, 6, 1), [](std::string_view) { return std::optional<std::uint64_t>(); }),
      "storage \"0\" has no record data/0 (at byte 86)");
  EXPECT_EQ(load_error(tensor_pickle(6, 1, 6, 1)),
            "a tensor reaching past its storage \"0\" of 6 elements (at byte 98)");
  EXPECT_EQ(load_error(tensor_pickle(6, 0, 3, 3)),
            "a tensor reaching past its storage \"0\" of 6 elements (at byte 98)");
  EXPECT_NO_THROW(td::pickle_load(tensor_pickle(6, 0, 0, 100), records_of(24)));  // no element is read
  EXPECT_EQ(load_error(tensor_pickle(6, 0, 6, 1, "module")),
            "a persistent id that is not a storage ('storage', type, key, location, size) (at byte 85)");
}

TEST(Pickle, BoundsWalksOverSharedAndNestedContainers) {
  // A list appended to itself: the tree holds a cycle, which a walk refuses by its depth.
  const td::PyTree cycle = td::pickle_load(std::string_view("\x80\x02]q\x00"
                                                            "h\x00"
                                                            "a.",
                                                            9),
                                           records_of(0));
  EXPECT_THROW(td::to_json(cycle.root), td::PickleError);
  std::string deep = "\x80\x02";
  for (int i = 0; i < 100; ++i) deep += "]";
  for (int i = 0; i < 99; ++i) deep += "a";
  deep += ".";
  const td::PyTree nested = td::pickle_load(deep, records_of(0));
  try {
    td::to_json(nested.root);
    FAIL() << "nesting of 100 lists was walked";
  } catch (const td::PickleError& error) {
    EXPECT_STREQ(error.what(), "a value nests deeper than 64");
  }
}

// A list shared by reference: `L = [L, L]` twenty times is 100 bytes of pickle and 2^21 values of JSON.
// Before, each file was bounded only by a fixed count and a listing by none; the caller's limit now holds.
TEST(Pickle, SharedContainersCountEveryTimeTheyAreMetAgainstTheCallersLimit) {
  std::string doubling("\x80\x02]q\x00", 5);                          // L = [], memoized at 0
  for (int i = 0; i < 20; ++i) doubling.append("h\x00\x86q\x00", 5);  // L = (L, L), memoized at 0
  doubling += ".";
  const td::PyTree tree = td::pickle_load(doubling, records_of(0));
  EXPECT_LT(tree.size(), 100U) << "the tree itself stays small";
  std::size_t values = 0;
  const td::PyNode* level = tree.root;
  for (int i = 20; i > 2; --i) level = level->items.at(0);
  const torchsystem::Json small = td::to_json(level, &values, 100);
  EXPECT_EQ(values, 7U) << small.dump();
  EXPECT_EQ(small.dump(), "[[[],[]],[[],[]]]");
  try {
    td::to_json(tree.root, &values, 5000);
    FAIL() << "2^21 values came out of a limit of 5000";
  } catch (const td::ValueLimitError& error) {
    EXPECT_STREQ(error.what(), "it holds more than 5000 values (shared ones counted each time)");
  }
  EXPECT_THROW(td::to_json(tree.root), td::ValueLimitError) << "the default limit of a million holds too";
}

// Before, a pickle made as many nodes as it had opcodes: a 1 GiB record could ask for some 250 GB of tree.
TEST(Pickle, APickleMakesAtMostTwoMillionValues) {
  std::string many = "\x80\x02](";
  many.append(td::max_pickle_nodes, 'N');
  many += "e.";
  EXPECT_EQ(load_error(many, records_of(0)), "the pickle makes more than 2000000 values (at byte " +
                                                 std::to_string(3 + td::max_pickle_nodes) + ")");
  many.erase(4, 1);  // the list and one None fewer: exactly the bound
  EXPECT_EQ(load_error(many, records_of(0)), "(no error)");
}

}  // namespace pickle_test
