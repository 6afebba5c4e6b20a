// A listing's cost is its page's: files are ordered from their names, only the page's are read, and the
// metadata of a page share one budget of JSON values (docs/reliability.md, "memory driven by content").
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/aggregate.hpp"

namespace store_listing_test {

namespace ts = torchsystem;
namespace fs = std::filesystem;
using test_files::TempDir;

ts::Aggregate make_aggregate(int in_features) {
  return ts::build_aggregate(
      {{"name", "Linear"}, {"arguments", {{"in_features", in_features}, {"out_features", 2}}}},
      ts::parse_json(R"({"name": "MSELoss"})"),
      ts::parse_json(R"({"name": "SGD", "arguments": {"lr": 0.1}})"), ts::Registries());
}

std::size_t value_count(const ts::Json& json) {
  std::size_t count = 1;
  if (json.is_structured())
    for (const ts::Json& item : json) count += value_count(item);
  return count;
}

/// A store of three checkpoints, each with a history of 50 records; `files` in the listing's order.
struct ThreeCheckpoints {
  TempDir dir;
  ts::CheckpointStore store{dir.path() / "store"};
  std::vector<fs::path> files;

  ThreeCheckpoints() {
    ts::Json history = ts::Json::array();
    for (int epoch = 1; epoch <= 50; ++epoch) history.push_back({{"epoch", epoch}, {"loss", 1.0 / epoch}});
    for (const int features : {3, 4, 5}) {
      const ts::Aggregate aggregate = make_aggregate(features);
      aggregate.set_epoch(50);
      files.push_back(store.save(aggregate, {{"history", history}}).path);
    }
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      return a.filename() < b.filename();  // one name, so the hash decides
    });
  }
};

void damage(const fs::path& file) {
  std::ofstream(file, std::ios::trunc) << "not a checkpoint";
}

// Before, every file was read and then the page cut: a listing of one cost the whole store, and damage
// anywhere in it showed on every page.
TEST(StoreListing, APageIsCutFromFileNamesBeforeAnyFileIsRead) {
  const ThreeCheckpoints s;
  damage(s.files[1]);
  damage(s.files[2]);

  const ts::CheckpointPage first = s.store.list({.offset = 0, .limit = 1, .skip_damaged = true});
  EXPECT_EQ(first.total, 3U);
  ASSERT_EQ(first.checkpoints.size(), 1U);
  EXPECT_EQ(first.checkpoints[0].path, s.files[0]);
  EXPECT_TRUE(first.damaged.empty()) << "the damaged files lie beyond the page and were not read";

  const ts::CheckpointPage rest = s.store.list({.offset = 1, .limit = 10, .skip_damaged = true});
  EXPECT_EQ(rest.total, 3U);
  EXPECT_TRUE(rest.checkpoints.empty());
  ASSERT_EQ(rest.damaged.size(), 2U);
  EXPECT_EQ(rest.damaged[0].path(), s.files[1].string());
  EXPECT_EQ(rest.damaged[1].path(), s.files[2].string());

  EXPECT_TRUE(s.store.list({.offset = 3, .limit = 10}).checkpoints.empty()) << "past the end";
  EXPECT_THROW(s.store.list({.offset = 1, .limit = 1}), ts::CheckpointError)
      << "damage throws unless skipped";
}

TEST(StoreListing, PagesFollowTheOrderOfTheWholeListing) {
  const ThreeCheckpoints s;
  const std::vector<ts::CheckpointInfo> all = s.store.list();
  ASSERT_EQ(all.size(), 3U);
  for (std::size_t index = 0; index < all.size(); ++index) {
    EXPECT_EQ(all[index].path, s.files[index]);
    const ts::CheckpointPage page = s.store.list({.offset = index, .limit = 1});
    ASSERT_EQ(page.checkpoints.size(), 1U);
    EXPECT_EQ(page.checkpoints[0].hash, all[index].hash);
  }
}

TEST(StoreListing, TheMetadataOfAPageShareOneBudget) {
  const ThreeCheckpoints s;
  const std::vector<ts::CheckpointInfo> all = s.store.list();
  ASSERT_EQ(all.size(), 3U);
  const std::size_t each = value_count(all[0].metadata);
  ASSERT_GT(each, 150U) << "fifty records of two values";

  // Room for two and a half: the third is left out, named, and said to be over the listing's budget.
  const std::size_t budget = 2 * each + each / 2;
  const ts::CheckpointPage page = s.store.list({.skip_damaged = true, .metadata_values = budget});
  ASSERT_EQ(page.checkpoints.size(), 2U);
  ASSERT_EQ(page.damaged.size(), 1U);
  EXPECT_EQ(page.damaged[0].path(), s.files[2].string());
  const std::string message = page.damaged[0].what();
  EXPECT_NE(message.find("left out of the listing"), std::string::npos) << message;
  EXPECT_NE(message.find("budget of " + std::to_string(budget) + " values"), std::string::npos) << message;

  // A file left out spends what was left: the files after it are not read at all.
  const ts::CheckpointPage short_page =
      s.store.list({.skip_damaged = true, .metadata_values = each + each / 2});
  ASSERT_EQ(short_page.checkpoints.size(), 1U);
  ASSERT_EQ(short_page.damaged.size(), 2U);
  EXPECT_NE(std::string(short_page.damaged[0].what())
                .find("more values than the " + std::to_string(each / 2) + " left"),
            std::string::npos)
      << short_page.damaged[0].what();
  EXPECT_NE(std::string(short_page.damaged[1].what()).find("left out of the listing unread"),
            std::string::npos)
      << short_page.damaged[1].what();

  // The next page has a budget of its own.
  const ts::CheckpointPage next = s.store.list({.offset = 2, .metadata_values = budget});
  ASSERT_EQ(next.checkpoints.size(), 1U);
  EXPECT_EQ(next.checkpoints[0].path, s.files[2]);
  EXPECT_EQ(s.store.list({.metadata_values = 3 * each}).checkpoints.size(), 3U) << "exactly enough";
}

}  // namespace store_listing_test
