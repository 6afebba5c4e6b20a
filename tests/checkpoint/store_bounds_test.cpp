// What a checkpoint file can make a load allocate: nothing of its tensors until its pickle has been checked
// against the aggregate (names, shapes, types, and the bytes of all its storages), so a crafted file with
// one extra tensor of any size costs nothing (docs/reliability.md, "memory driven by content").
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "state_dict.hpp"
#include "temp_dir.hpp"
#include "torch_save.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/aggregate.hpp"
#include "torchsystem/torch/allocation_limit.hpp"

namespace store_bounds_test {

namespace ts = torchsystem;
namespace td = torchsystem::checkpoint_detail;
namespace fs = std::filesystem;
using test_files::TempDir;
constexpr std::size_t mib = std::size_t{1} << 20;

ts::Aggregate make_aggregate() {
  return ts::build_aggregate(
      ts::parse_json(R"({"name": "Linear", "arguments": {"in_features": 4, "out_features": 2}})"),
      ts::parse_json(R"({"name": "MSELoss"})"),
      ts::parse_json(R"({"name": "SGD", "arguments": {"lr": 0.1}})"), ts::Registries());
}

/// Writes a checkpoint of the aggregate in the reference's layout, `change` applied to its tree first.
void write(
    const fs::path& path, const ts::Aggregate& aggregate,
    const std::function<void(td::PyTree&, td::TensorTable&, td::PyNode* nn, td::PyNode* optimizer)>& change) {
  td::PyTree tree;
  td::TensorTable tensors;
  td::PyNode* root = tree.dict();
  tree.set(root, "epoch", tree.integer(1));
  td::PyNode* nn = td::module_state_dict(tree, tensors, aggregate.model().state());
  td::PyNode* optimizer = td::optimizer_state_dict(tree, tensors, aggregate.optimizer());
  change(tree, tensors, nn, optimizer);
  tree.set(root, "nn", nn);
  tree.set(root, "optimizer", optimizer);
  tree.root = root;
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  td::write_torch_save(tree, tensors, [&](const void* data, std::size_t size) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    return size;
  });
}

std::string load_error(const ts::CheckpointStore& store, const ts::Aggregate& aggregate) {
  const ts::AllocationLimit limit(4 * mib, "the load");
  try {
    store.load(aggregate);
  } catch (const ts::CheckpointError& error) {
    return error.what();
  }
  return "(loaded)";
}

// Before, every storage was read before a name was compared: 3.1 GB and 9 s for a sparse file of 2.4 MB.
TEST(StoreBounds, AnExtraTensorIsRefusedBeforeAnyTensorOfTheFileIsAllocated) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  const ts::Aggregate aggregate = make_aggregate();
  write(store.path_for(aggregate.name(), aggregate.hash()), aggregate,
        [](td::PyTree& tree, td::TensorTable& tensors, td::PyNode* nn, td::PyNode*) {
          tree.set(nn, "extra", tensors.add(tree, torch::zeros({16 * 1024 * 1024})));  // 64 MiB
        });
  const std::string message = load_error(store, aggregate);
  EXPECT_NE(message.find("does not fit the aggregate: nn holds \"extra\", which the model has not"),
            std::string::npos)
      << message;
  EXPECT_EQ(aggregate.epoch(), 0);
}

TEST(StoreBounds, AShapeThatDiffersIsRefusedBeforeAnyTensorOfTheFileIsAllocated) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  const ts::Aggregate aggregate = make_aggregate();
  write(store.path_for(aggregate.name(), aggregate.hash()), aggregate,
        [](td::PyTree& tree, td::TensorTable& tensors, td::PyNode* nn, td::PyNode*) {
          nn->entries.clear();
          tree.set(nn, "weight", tensors.add(tree, torch::zeros({2, 8 * 1024 * 1024})));
          tree.set(nn, "bias", tensors.add(tree, torch::zeros({2})));
        });
  const std::string message = load_error(store, aggregate);
  EXPECT_NE(message.find("nn.weight is Float[2, 8388608] in the file, Float[2, 4] in the model"),
            std::string::npos)
      << message;
}

// Storages no state of the aggregate could need, hidden where a name check does not look (an optimizer's
// state for a parameter it lacks): their bytes alone refuse the file.
TEST(StoreBounds, StoragesLargerThanTheAggregatesStateCanTakeAreNeverRead) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  const ts::Aggregate aggregate = make_aggregate();
  write(store.path_for(aggregate.name(), aggregate.hash()), aggregate,
        [](td::PyTree& tree, td::TensorTable& tensors, td::PyNode*, td::PyNode* optimizer) {
          td::PyNode* entry = tree.dict();
          tree.set(entry, "momentum_buffer", tensors.add(tree, torch::zeros({16 * 1024 * 1024})));
          td::PyTree::set(const_cast<td::PyNode*>(optimizer->find("state")), tree.integer(7), entry);
        });
  const std::string message = load_error(store, aggregate);
  EXPECT_NE(message.find("its tensors take 67108904 bytes, more than the"), std::string::npos) << message;
}

TEST(StoreBounds, AGenuineCheckpointLoadsAllocatingAboutItsTensors) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  const ts::Aggregate saved = make_aggregate();
  saved.set_epoch(2);
  store.save(saved);
  const ts::Aggregate fresh = make_aggregate();
  const ts::AllocationLimit limit(mib, "the load");
  ASSERT_TRUE(store.load(fresh).has_value());
  EXPECT_EQ(fresh.epoch(), 2);
  EXPECT_LT(limit.used(), 4096U) << "a few copies of 40 bytes of state";
}

}  // namespace store_bounds_test
