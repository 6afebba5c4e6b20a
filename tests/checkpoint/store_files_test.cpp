// Entries of a store the store did not write: symbolic links, FIFOs and links named as its own files.
// None is followed, read from, blocked on or written through, and listing, finding and loading agree
// that such an entry is not a checkpoint of the store (docs/reliability.md).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "temp_dir.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/aggregate.hpp"

namespace store_files_test {

namespace ts = torchsystem;
namespace fs = std::filesystem;
using test_files::TempDir;

ts::Aggregate make_aggregate() {
  return ts::build_aggregate(
      ts::parse_json(R"({"name": "Linear", "arguments": {"in_features": 4, "out_features": 2}})"),
      ts::parse_json(R"({"name": "MSELoss"})"),
      ts::parse_json(R"({"name": "SGD", "arguments": {"lr": 0.1}})"), ts::Registries());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Store {
  TempDir dir;
  fs::path directory = dir.path() / "store";
  ts::CheckpointStore store{directory};
  ts::Aggregate aggregate = make_aggregate();

  Store() { fs::create_directories(directory); }
  fs::path checkpoint() const { return store.path_for(aggregate.name(), aggregate.hash()); }
  fs::path lock() const { return store.lock_path_for(aggregate.name(), aggregate.hash()); }
};

TEST(StoreFiles, ASymlinkedLockFileIsRefusedAndItsTargetLeftAlone) {
  const Store s;
  const fs::path precious = s.dir.path() / "precious.txt";
  std::ofstream(precious) << "keep me";
  fs::create_symlink(precious, s.lock());
  EXPECT_THROW(s.store.try_lock(s.aggregate.name(), s.aggregate.hash()), ts::ForeignFileError);
  EXPECT_EQ(read_text(precious), "keep me");

  // A dangling link creates nothing where it points.
  fs::remove(s.lock());
  const fs::path elsewhere = s.dir.path() / "created.txt";
  fs::create_symlink(elsewhere, s.lock());
  EXPECT_THROW(s.store.try_lock(s.aggregate.name(), s.aggregate.hash()), ts::ForeignFileError);
  EXPECT_FALSE(fs::exists(fs::symlink_status(elsewhere)));
}

TEST(StoreFiles, AFifoAsTheLockFileIsRefusedWithoutBlocking) {
  const Store s;
  ASSERT_EQ(::mkfifo(s.lock().c_str(), 0600), 0);
  EXPECT_THROW(s.store.try_lock(s.aggregate.name(), s.aggregate.hash()), ts::ForeignFileError);
}

// Before, the open blocked until a writer came: `train` and `checkpoints verify` hung for ever.
TEST(StoreFiles, AFifoNamedAsACheckpointIsRefusedWithoutBlockingThenReplacedByASave) {
  const Store s;
  ASSERT_EQ(::mkfifo(s.checkpoint().c_str(), 0600), 0);
  EXPECT_THROW(s.store.load(s.aggregate), ts::ForeignFileError);
  EXPECT_THROW(s.store.find(s.aggregate.name(), s.aggregate.hash()), ts::ForeignFileError);
  EXPECT_THROW(ts::CheckpointStore::inspect(s.checkpoint()), ts::ForeignFileError);
  EXPECT_TRUE(s.store.list().empty());
  EXPECT_EQ(s.aggregate.epoch(), 0) << "nothing was loaded";

  // A save takes the name; nothing is read from the FIFO.
  s.aggregate.set_epoch(1);
  s.store.save(s.aggregate);
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(s.checkpoint())));
  ASSERT_EQ(s.store.list().size(), 1U);
}

TEST(StoreFiles, ASymlinkedCheckpointIsNeitherListedNorFoundNorLoaded) {
  const Store s;
  // A genuine checkpoint of the identity, in another store.
  const ts::CheckpointStore other(s.dir.path() / "other");
  s.aggregate.set_epoch(3);
  const fs::path real = other.save(s.aggregate).path;
  s.aggregate.set_epoch(0);
  fs::create_symlink(real, s.checkpoint());

  EXPECT_TRUE(s.store.list().empty()) << "listing agrees with loading: a link is not in the store";
  EXPECT_THROW(s.store.find(s.aggregate.name(), s.aggregate.hash()), ts::ForeignFileError);
  EXPECT_THROW(s.store.read(s.aggregate.name(), s.aggregate.hash()), ts::ForeignFileError);
  EXPECT_THROW(s.store.load(s.aggregate), ts::ForeignFileError);
  EXPECT_EQ(s.aggregate.epoch(), 0);
  // Found through its own store, it is intact.
  const auto found = other.find(s.aggregate.name(), s.aggregate.hash());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->epoch, 3);
}

TEST(StoreFiles, FindAndReadGiveTheSameCheckpointLoadRestores) {
  const Store s;
  EXPECT_FALSE(s.store.find(s.aggregate.name(), s.aggregate.hash()).has_value());
  EXPECT_FALSE(s.store.read(s.aggregate.name(), s.aggregate.hash()).has_value());
  s.aggregate.set_epoch(2);
  const auto saved = s.store.save(s.aggregate, {{"note", "x"}});

  const auto found = s.store.find(s.aggregate.name(), s.aggregate.hash());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->epoch, 2);
  EXPECT_EQ(found->path, saved.path);
  EXPECT_EQ(ts::to_json(*found), ts::to_json(saved));

  // One read rebuilds the aggregate its metadata name and restores it.
  const auto checkpoint = s.store.read(s.aggregate.name(), s.aggregate.hash());
  ASSERT_TRUE(checkpoint.has_value());
  const ts::Aggregate rebuilt = ts::rebuild_aggregate(checkpoint->info().metadata, ts::Registries());
  EXPECT_EQ(rebuilt.epoch(), 2);
  checkpoint->restore(rebuilt);
  EXPECT_EQ(rebuilt.name() + "-" + rebuilt.hash(), s.aggregate.name() + "-" + s.aggregate.hash());
  const auto original = s.aggregate.model().state(), restored = rebuilt.model().state();
  ASSERT_EQ(original.size(), restored.size());
  for (std::size_t index = 0; index < original.size(); ++index) {
    EXPECT_EQ(original[index].first, restored[index].first);
    EXPECT_TRUE(original[index].second.equal(restored[index].second)) << original[index].first;
  }
}

TEST(StoreFiles, MetadataClaimingAnotherIdentityAreRefusedBeforeAnythingIsBuilt) {
  ts::Json metadata = make_aggregate().metadata();
  metadata["model"]["hash"] = "0123456789abcdef0123456789abcdef";
  try {
    ts::rebuild_aggregate(metadata, ts::Registries());
    FAIL() << "rebuilt from metadata whose hash is not their arguments'";
  } catch (const ts::IdentityError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("0123456789abcdef0123456789abcdef"), std::string::npos) << message;
    EXPECT_NE(message.find(make_aggregate().hash()), std::string::npos) << message;
  }
}

}  // namespace store_files_test
