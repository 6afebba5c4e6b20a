// AllocationLimit: the allocation that would pass a scope's bound is refused before it happens, whatever
// allocates (a catalog module, a registry build), on the scope's thread only.
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <thread>

#include "torchsystem/error.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/allocation_limit.hpp"
#include "torchsystem/torch/catalog.hpp"

namespace allocation_limit_test {

namespace ts = torchsystem;
constexpr std::size_t mib = std::size_t{1} << 20;

std::string refusal(const std::function<void()>& allocate) {
  try {
    allocate();
  } catch (const ts::AllocationLimitError& error) {
    return error.what();
  }
  return "(allowed)";
}

TEST(AllocationLimit, RefusesTheAllocationThatWouldPassTheBoundBeforeItHappens) {
  const ts::AllocationLimit limit(64 * mib, "the test");
  const torch::Tensor small = torch::empty({1024, 1024});  // 4 MiB
  EXPECT_EQ(limit.used(), 4 * mib);
  // 30000 x 30000 floats: 3.4 GB, refused at the allocation, so nothing of it is ever held.
  EXPECT_EQ(
      refusal([] { torch::nn::Linear(30000, 30000); }),
      "the test would allocate more than its bound of 64 MiB (4 MiB allocated, 3433 MiB more asked for)");
  EXPECT_EQ(limit.used(), 4 * mib) << "the refused allocation is not counted";
  EXPECT_EQ(refusal([] { torch::empty({15 * 1024 * 1024}); }), "(allowed)") << "60 MiB fit, exactly";
  EXPECT_EQ(limit.used(), 64 * mib);
  EXPECT_NE(refusal([] { torch::empty({1}); }), "(allowed)")
      << "the bound is spent; freeing does not refill it";
}

TEST(AllocationLimit, AScopeEndsWithItsBlockAndNestsInAnother) {
  {
    const ts::AllocationLimit outer(16 * mib, "outer");
    {
      const ts::AllocationLimit inner(64 * mib, "inner");
      EXPECT_EQ(refusal([] { torch::empty({8 * 1024 * 1024}); }).substr(0, 5), "outer") << "32 MiB";
      const torch::Tensor fits = torch::empty({1024 * 1024});
      EXPECT_EQ(inner.used(), 4 * mib);
      EXPECT_EQ(outer.used(), 4 * mib);
    }
    EXPECT_EQ(outer.used(), 4 * mib);
  }
  EXPECT_EQ(refusal([] { torch::empty({32 * 1024 * 1024}); }), "(allowed)") << "no scope: 128 MiB";
}

TEST(AllocationLimit, OtherThreadsAreNotBounded) {
  const ts::AllocationLimit limit(mib, "this thread");
  std::string other;
  std::thread([&] { other = refusal([] { torch::empty({4 * 1024 * 1024}); }); }).join();
  EXPECT_EQ(other, "(allowed)");
  EXPECT_EQ(limit.used(), 0U);
}

// A registry build lets the error through as it is, so a server can tell it from a bad argument.
TEST(AllocationLimit, ARegistryBuildIsRefusedWithTheLimitsOwnError) {
  const ts::AllocationLimit limit(256 * mib, "the build");
  const std::string message = refusal([] {
    ts::torch_catalog().modules.create(ts::parse_json(
        R"({"name": "MultiheadAttention", "arguments": {"embed_dim": 30000, "num_heads": 1}})"));
  });
  EXPECT_EQ(message.substr(0, 55), "the build would allocate more than its bound of 256 MiB") << message;
}

}  // namespace allocation_limit_test
