// Metadata lives exactly as long as its object: shared by every copy of the handle, released with the
// last one, and never leaked by failed creations or by many creations.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;
using ts::Json;

namespace {

namespace lifetime_test {

struct Module {
  virtual ~Module() = default;
};

struct Cell : Module {
  explicit Cell(int v) : value(v) {}
  int value;
};

struct Act : Module {};

// Keeps its inner entity.
struct Keeper : Module {
  explicit Keeper(std::shared_ptr<Module> i) : inner(std::move(i)) {}
  std::shared_ptr<Module> inner;
};

// Uses its inner entity while being built, then lets it go.
struct Dropper : Module {
  explicit Dropper(const std::shared_ptr<Module>& i) : saw_inner(i != nullptr) {}
  bool saw_inner;
};

// Throws from its constructor for a negative value.
struct Thrower : Module {
  Thrower(std::shared_ptr<Module> i, int v) : inner(std::move(i)) {
    if (v < 0) throw std::invalid_argument("negative");
  }
  std::shared_ptr<Module> inner;
};

struct Member {
  int value = 0;
};
struct WithMember : Module {
  explicit WithMember(int v) : member{v} {}
  Member member;
};

void setup(ts::Registry<Module>& modules) {
  modules.register_class<Cell(int)>("value");
  modules.register_class<Act()>();
  modules.register_class<Keeper(std::shared_ptr<Module>)>("inner");
  modules.register_class<Dropper(std::shared_ptr<Module>)>("inner");
  modules.register_class<Thrower(std::shared_ptr<Module>, int)>("inner", "value");
  modules.register_class<WithMember(int)>("value");
}

struct Modules : ts::Registry<Module> {
  Modules() { setup(*this); }
};

// Bytes in use on the heap (glibc); 0 where the allocator does not report it (sanitizers).
std::size_t heap_in_use() {
  return mallinfo2().uordblks;
}

}  // namespace lifetime_test

using namespace lifetime_test;

TEST(Lifetime, CopiesShareOneRecord) {
  Modules modules;
  const auto cell = ts::create<Cell>(1);
  // NOLINTNEXTLINE(performance-unnecessary-copy-initialization): the copy is what is under test
  const std::shared_ptr<Cell> copy = cell;
  const std::shared_ptr<Module> as_base = cell;
  const std::weak_ptr<Cell> weak = cell;
  EXPECT_EQ(ts::detail::find_record(cell), ts::detail::find_record(copy));
  EXPECT_EQ(ts::detail::find_record(cell), ts::detail::find_record(as_base));
  ts::setname(copy, "Renamed");
  EXPECT_EQ(ts::getname(cell), "Renamed");
  EXPECT_EQ(ts::getname(as_base), "Renamed");
  ts::sethash(as_base, "custom");
  EXPECT_EQ(ts::gethash(cell), "custom");
  EXPECT_EQ(ts::gethash(weak.lock()), "custom");
}

TEST(Lifetime, AliasingHandlesShareTheRecord) {
  Modules modules;
  const auto owner = ts::create<WithMember>(5);
  // A handle to a member, sharing ownership with the entity, finds the entity's record.
  const std::shared_ptr<Member> member(owner, &owner->member);
  EXPECT_EQ(ts::detail::find_record(member), ts::detail::find_record(owner));
  EXPECT_EQ(ts::dumps(ts::getarguments(member)), R"({"value": 5})");
}

TEST(Lifetime, RecordIsReleasedWithTheLastCopy) {
  Modules modules;
  const std::size_t start = ts::live_entities();
  auto cell = ts::create<Cell>(1);
  EXPECT_EQ(ts::live_entities(), start + 1);
  auto copy = cell;
  std::shared_ptr<Module> base = cell;
  EXPECT_EQ(ts::live_entities(), start + 1) << "copies share the record";
  const std::weak_ptr<Cell> weak = cell;
  cell.reset();
  copy.reset();
  EXPECT_EQ(ts::live_entities(), start + 1);
  EXPECT_EQ(ts::getname(base), "Cell");
  base.reset();
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(ts::live_entities(), start);
}

TEST(Lifetime, MillionObjectsLeaveNothingBehind) {
  Modules modules;
  const std::size_t start = ts::live_entities();
  // Warm up: the first calls fill one-time caches (type names, base offsets).
  for (int i = 0; i < 1000; ++i) (void)ts::create<Cell>(i);
  const std::size_t heap_before = heap_in_use();
  for (int i = 0; i < 1000000; ++i) {
    const auto cell = ts::create<Cell>(i);
    if (cell->value != i) {
      FAIL() << "wrong value at " << i;
    }
  }
  EXPECT_EQ(ts::live_entities(), start);
  const std::size_t heap_after = heap_in_use();
  EXPECT_LE(heap_after, heap_before + std::size_t{64} * 1024)
      << "heap grew from " << heap_before << " to " << heap_after;
}

TEST(Lifetime, ObjectsCreatedThroughARegistryAreReleased) {
  Modules modules;
  const std::size_t start = ts::live_entities();
  const Json config = ts::parse_json(R"({"name": "Keeper", "arguments": {"inner": {"name": "Keeper",
      "arguments": {"inner": "Act"}}}})");
  const auto round = [&](int i) {
    const auto keeper = modules.create(config);
    const auto cell = modules.get("Cell")(i);
    (void)ts::gethash(keeper);
    (void)ts::gethash(cell, ts::IdentityStyle::canonical);
  };
  // Warm up: the first rounds fill one-time caches (MD5 context, type names, base offsets).
  for (int i = 0; i < 2000; ++i) round(i);
  const std::size_t heap_before = heap_in_use();
  for (int i = 0; i < 100000; ++i) round(i);
  EXPECT_EQ(ts::live_entities(), start);
  EXPECT_LE(heap_in_use(), heap_before + std::size_t{64} * 1024) << "heap grew from " << heap_before;
}

TEST(Lifetime, OuterKeepsNestedEntityAliveOnlyWhenItHoldsIt) {
  Modules modules;
  const std::size_t start = ts::live_entities();
  {
    auto keeper = modules.create("Keeper", Json{{"inner", "Act"}});
    EXPECT_EQ(ts::live_entities(), start + 2) << "the keeper and its activation";
    const std::weak_ptr<Module> inner = dynamic_cast<const Keeper&>(*keeper).inner;
    EXPECT_EQ(ts::getname(inner.lock()), "Act");
    keeper.reset();
    EXPECT_TRUE(inner.expired());
    EXPECT_EQ(ts::live_entities(), start);
  }
  {
    auto dropper = modules.create("Dropper", Json{{"inner", "Act"}});
    EXPECT_TRUE(dynamic_cast<const Dropper&>(*dropper).saw_inner);
    EXPECT_EQ(ts::live_entities(), start + 1)
        << "only the dropper: its activation was released after building";
    // The identity of the released activation is still recorded by value.
    EXPECT_EQ(ts::dumps(ts::getarguments(dropper)), R"({"inner": "Act"})");
    dropper.reset();
    EXPECT_EQ(ts::live_entities(), start);
  }
  {
    // An inner entity the caller keeps outlives the outer one.
    auto act = modules.get("Act")();
    auto keeper = modules.get("Keeper")(act);
    EXPECT_EQ(ts::live_entities(), start + 2);
    keeper.reset();
    EXPECT_EQ(ts::live_entities(), start + 1);
    EXPECT_EQ(ts::getname(act), "Act");
    act.reset();
    EXPECT_EQ(ts::live_entities(), start);
  }
}

TEST(Lifetime, ConstructorExceptionLeavesNothingBehind) {
  Modules modules;
  const std::size_t start = ts::live_entities();
  // A constructor's own exception becomes an ArgumentError naming the class, the original nested in it.
  try {
    modules.get("Thrower")(modules.get("Act")(), -1);
    ADD_FAILURE() << "the constructor threw";
  } catch (const ts::ArgumentError& error) {
    EXPECT_EQ(error.path(), "Thrower");
    EXPECT_EQ(error.reason(), "negative");
    EXPECT_THROW(std::rethrow_if_nested(error), std::invalid_argument);
  }
  EXPECT_EQ(ts::live_entities(), start);
  EXPECT_THROW(modules.create("Thrower", Json{{"inner", "Act"}, {"value", -1}}), ts::ArgumentError);
  EXPECT_EQ(ts::live_entities(), start) << "the nested activation built for it is released too";
  const auto nested = test_support::thrown<ts::ArgumentError>([&] {
    modules.create("Keeper", ts::parse_json(R"({"inner": {"name": "Thrower",
      "arguments": {"inner": {"name": "Keeper", "arguments": {"inner": "Act"}}, "value": -1}}})"));
  });
  ASSERT_TRUE(nested);
  EXPECT_STREQ(nested->what(), "Keeper.inner -> Thrower: negative");
  EXPECT_EQ(ts::live_entities(), start);
  EXPECT_NO_THROW(modules.create("Thrower", Json{{"inner", "Act"}, {"value", 1}}));
  EXPECT_EQ(ts::live_entities(), start);
}

TEST(Lifetime, ArgumentErrorAfterANestedEntityWasBuiltLeavesNothingBehind) {
  Modules modules;
  const std::size_t start = ts::live_entities();
  // The inner keepers and the activation are built before "value" fails to convert.
  EXPECT_THROW(modules.create("Thrower", ts::parse_json(R"({"inner": {"name": "Keeper", "arguments":
      {"inner": "Act"}}, "value": "x"})")),
               ts::ArgumentError);
  EXPECT_EQ(ts::live_entities(), start);
  EXPECT_THROW(modules.create("Keeper", ts::parse_json(R"({"inner": {"name": "Keeper", "arguments":
      {"inner": {"name": "Cell", "arguments": {"value": 1.5}}}}})")),
               ts::ArgumentError);
  EXPECT_EQ(ts::live_entities(), start);
}

TEST(Lifetime, OuterRecordsTheNestedIdentityAtCreation) {
  Modules modules;
  auto cell = modules.get("Cell")(3);
  ts::setname(cell, "Named");
  const auto keeper = modules.get("Keeper")(cell);
  const std::string hash = ts::gethash(keeper);
  // Renaming the inner entity afterwards does not change what the outer recorded.
  ts::setname(cell, "Other");
  cell.reset();
  EXPECT_EQ(ts::dumps(ts::getarguments(keeper)),
            R"({"inner": {"name": "Named", "arguments": {"value": 3}}})");
  EXPECT_EQ(ts::gethash(keeper), hash);
}

}  // namespace
