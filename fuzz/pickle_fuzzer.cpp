// Fuzz target: the reader of torch.save's pickles (src/checkpoint/pickle.hpp), which reads `.pth` files
// Python wrote. The first byte sets the size every storage record claims (0 to 255 elements of 4 bytes),
// the rest is the pickle. pickle_load must either refuse with PickleError or give a tree whose every
// tensor lies within its storage; to_json must refuse or succeed within its bounds; and a tree that
// pickles again must read back to the same pickle (the writer and the reader agree).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "fuzz_support.hpp"
#include "pickle.hpp"

namespace torchsystem::fuzz {
namespace {

namespace td = checkpoint_detail;

/// Each node once: a pickle can share containers and make cycles.
void check_tensors(const td::PyTree& tree, const td::PyNode* node,
                   std::unordered_set<const td::PyNode*>& seen) {
  if (!seen.insert(node).second) return;
  if (node->kind == td::PyNode::Kind::tensor) {
    const auto& tensor = node->tensor;
    auto last = static_cast<std::uint64_t>(tensor.offset);
    bool empty = false;
    for (std::size_t dim = 0; dim < tensor.sizes.size(); ++dim) {
      empty |= tensor.sizes[dim] == 0;
      last += static_cast<std::uint64_t>(tensor.sizes[dim] - (tensor.sizes[dim] > 0)) *
              static_cast<std::uint64_t>(tensor.strides[dim]);
    }
    check(empty || last < tensor.storage_numel, "a tensor reaches past its storage");
    check(tree.storages.contains(tensor.storage_key), "a tensor's storage is not listed");
  }
  for (const td::PyNode* item : node->items) check_tensors(tree, item, seen);
  for (const auto& [key, value] : node->entries) {
    check_tensors(tree, key, seen);
    check_tensors(tree, value, seen);
  }
}

}  // namespace
}  // namespace torchsystem::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace torchsystem::fuzz;
  if (size == 0) return 0;
  const std::uint64_t record = 4 * std::uint64_t{data[0]};
  const std::string_view pickle(reinterpret_cast<const char*>(data + 1), size - 1);
  td::PyTree tree;
  try {
    tree =
        td::pickle_load(pickle, [record](std::string_view) { return std::optional<std::uint64_t>(record); });
  } catch (const td::PickleError&) {
    return 0;
  }
  std::unordered_set<const td::PyNode*> seen;
  check_tensors(tree, tree.root, seen);
  try {
    (void)td::to_json(tree.root);
  } catch (const td::PickleError&) {
  }
  std::string again;
  try {
    again = td::pickle_dump(tree);
  } catch (const td::PickleError&) {
    return 0;  // globals or storages outside calls, or a tree nesting too deep: not a tree to write
  }
  const td::PyTree back = td::pickle_load(again, [&](std::string_view key) -> std::optional<std::uint64_t> {
    const auto found = tree.storages.find(std::string(key));
    if (found == tree.storages.end()) return std::nullopt;
    return found->second.second * *td::storage_element_size(found->second.first);
  });
  check(td::pickle_dump(back) == again, "a written pickle reads back differently");
  return 0;
}
