// Registration, creation, the accessors and registries used from many threads at once. The results are
// checked here; data races are for ThreadSanitizer (build with -fsanitize=thread and run these tests).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;
using ts::Json;

namespace {

namespace threads_test {

constexpr int thread_count = 8;
constexpr int iterations = 2000;

struct Base {
  virtual ~Base() = default;
};

struct Worker : Base {
  Worker(int a, double b, std::string c) : x(a), y(b), z(std::move(c)) {}
  int x;
  double y;
  std::string z;
};

// Registered for the first time by many threads at once.
struct FirstRace : Base {
  explicit FirstRace(int a) : n(a) {}
  int n;
};
struct FirstRaceInRegistry : Base {
  explicit FirstRaceInRegistry(int a) : n(a) {}
  int n;
};

template <int N>
struct Tagged : Base {
  explicit Tagged(int a) : n(a) {}
  int n;
};

struct Act : Base {};

struct Pair : Base {
  Pair(std::shared_ptr<Base> f, int k) : first(std::move(f)), n(k) {}
  std::shared_ptr<Base> first;
  int n;
};

void register_worker() {
  ts::register_class<Worker(int, double, std::string)>("x", "y", "z"_a = "w");
}

// Runs `body(thread index)` on thread_count threads released together; returns after all have finished.
void run_together(const std::function<void(int)>& body) {
  std::latch start(thread_count);
  std::vector<std::thread> threads;
  threads.reserve(thread_count);
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (auto& thread : threads) thread.join();
}

bool valid_metadata(const Json& metadata, const std::set<std::string>& names,
                    const std::set<std::string>& hashes, const Json& arguments) {
  std::vector<std::string> keys;
  for (auto item = metadata.begin(); item != metadata.end(); ++item) keys.push_back(item.key());
  const std::vector<std::string> order{"hash", "name", "arguments"};
  std::size_t next = 0;
  for (const auto& key : keys) {
    while (next < order.size() && order[next] != key) ++next;
    if (next == order.size()) return false;  // unknown key or out of order
  }
  if (keys.empty() || keys.back() != "arguments" || metadata.at("arguments") != arguments) return false;
  if (metadata.contains("name") && !names.contains(metadata.at("name").get<std::string>())) return false;
  if (metadata.contains("hash") && !hashes.contains(metadata.at("hash").get<std::string>())) return false;
  return true;
}

template <std::size_t... I>
std::array<void (*)(ts::Registry<Base>&), sizeof...(I)> tagged_registrations(std::index_sequence<I...>) {
  return {+[](ts::Registry<Base>& registry) { registry.register_class<Tagged<int(I)>(int)>("n"); }...};
}

}  // namespace threads_test

using namespace threads_test;

TEST(Threads, RegisteringTheSameDefinitionAtOnceGivesOneClass) {
  std::array<const ts::ClassInfo*, thread_count> seen{};
  std::atomic<int> errors{0};
  run_together([&](int t) {
    try {
      for (int i = 0; i < 200; ++i) {
        const ts::ClassInfo& info = ts::register_class<FirstRace(int)>("n");
        if (seen[t] && seen[t] != &info) errors.fetch_add(1);
        seen[t] = &info;
      }
    } catch (...) {
      errors.fetch_add(1);
    }
  });
  EXPECT_EQ(errors.load(), 0);
  for (const auto* info : seen) EXPECT_EQ(info, seen[0]);
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<FirstRace>(3))), R"({"n": 3})");
}

TEST(Threads, RegisteringIntoOneRegistryAtOnce) {
  ts::Registry<Base> registry;
  std::array<const ts::ClassInfo*, thread_count> seen{};
  std::atomic<int> errors{0};
  run_together([&](int t) {
    try {
      for (int i = 0; i < 200; ++i) seen[t] = &registry.register_class<FirstRaceInRegistry(int)>("n");
    } catch (...) {
      errors.fetch_add(1);
    }
  });
  EXPECT_EQ(errors.load(), 0);
  for (const auto* info : seen) EXPECT_EQ(info, seen[0]);
  EXPECT_EQ(registry.keys(), std::vector<std::string>{"FirstRaceInRegistry"});
}

TEST(Threads, DifferentClassesRegisteredWhileOthersRead) {
  static const auto registrations =
      tagged_registrations(std::make_index_sequence<std::size_t{2} * thread_count>{});
  ts::Registry<Base> registry;
  register_worker();
  registry.add<Worker>();
  std::atomic<int> errors{0};
  run_together([&](int t) {
    try {
      registrations[std::size_t{2} * t](registry);
      for (int i = 0; i < iterations / 4; ++i) {
        // keys() grows while the others register; its first entry and its bound are fixed.
        const auto keys = registry.keys();
        if (keys.empty() || keys.front() != "Worker" || keys.size() > 1 + 2 * thread_count)
          errors.fetch_add(1);
        if (!registry.contains("Worker")) errors.fetch_add(1);
        const auto worker = registry.get("Worker")(i, 0.5);
        if (dynamic_cast<const Worker&>(*worker).x != i) errors.fetch_add(1);
      }
      registrations[2 * t + 1](registry);
    } catch (...) {
      errors.fetch_add(1);
    }
  });
  EXPECT_EQ(errors.load(), 0);
  const auto keys = registry.keys();
  EXPECT_EQ(keys.size(), 1U + 2 * thread_count);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size()) << "no key twice";
  for (int n = 0; n < 2 * thread_count; ++n) {
    EXPECT_TRUE(registry.contains("Tagged<" + std::to_string(n) + ">")) << n;
  }
}

TEST(Threads, CreatingAndHashingAtOnce) {
  register_worker();
  // Expected identities, computed on one thread.
  std::vector<std::string> hashes;
  std::vector<std::string> texts;
  for (int i = 0; i < 16; ++i) {
    const auto worker = ts::create<Worker>(i, 0.25 * i, "z"_a = std::to_string(i));
    hashes.push_back(ts::gethash(worker));
    texts.push_back(ts::dumps(ts::getarguments(worker)));
  }
  EXPECT_EQ(texts[3], R"({"x": 3, "y": 0.75, "z": "3"})");
  const std::size_t live_before = ts::live_entities();
  std::atomic<int> errors{0};
  run_together([&](int t) {
    for (int i = 0; i < iterations; ++i) {
      const int k = (i + t) % 16;
      const auto worker = ts::create<Worker>(k, 0.25 * k, "z"_a = std::to_string(k));
      if (ts::gethash(worker) != hashes[k]) errors.fetch_add(1);
      if (ts::dumps(ts::getarguments(worker)) != texts[k]) errors.fetch_add(1);
      if (worker->x != k || worker->z != std::to_string(k)) errors.fetch_add(1);
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(ts::live_entities(), live_before);
}

TEST(Threads, AccessorsOnSharedObjects) {
  register_worker();
  const auto named = ts::create<Worker>(1, 2.0, "3");
  const auto hashed = ts::create<Worker>(1, 2.0, "3");
  const std::string original = ts::gethash(named);
  const std::set<std::string> names{"Worker", "A", "B"};
  const std::set<std::string> name_hashes{original, ts::identity_hash("A", ts::getarguments(named)),
                                          ts::identity_hash("B", ts::getarguments(named))};
  const std::set<std::string> fixed_hashes{original, "h0", "h1"};
  const std::string canonical = ts::gethash(hashed, ts::IdentityStyle::canonical);
  const Json args = ts::getarguments(named);
  std::atomic<int> errors{0};
  run_together([&](int t) {
    for (int i = 0; i < iterations; ++i) {
      if (t % 4 == 0) {
        ts::setname(named, (i % 2) ? "A" : "B");
      } else if (t % 4 == 1) {
        ts::sethash(hashed, "h" + std::to_string(i % 2));
      } else {
        if (!names.contains(ts::getname(named))) errors.fetch_add(1);
        if (!name_hashes.contains(ts::gethash(named))) errors.fetch_add(1);
        if (!fixed_hashes.contains(ts::gethash(hashed))) errors.fetch_add(1);
        if (ts::gethash(hashed, ts::IdentityStyle::canonical) != canonical) errors.fetch_add(1);
        // Metadata is a consistent snapshot: known keys in the order hash, name, arguments.
        if (!valid_metadata(ts::getmetadata(named), names, name_hashes, args)) errors.fetch_add(1);
        if (!valid_metadata(ts::getmetadata(hashed), {"Worker"}, fixed_hashes, args)) errors.fetch_add(1);
        // sethash() without a value fixes the hash of the name current at that moment.
        if (t == 2) ts::sethash(named);
      }
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_TRUE(names.contains(ts::getname(named)));
  EXPECT_TRUE(fixed_hashes.contains(ts::gethash(hashed)));
}

TEST(Threads, RegistryGetCreateAndKeysAtOnce) {
  ts::Registry<Base> registry;
  registry.register_class<Worker(int, double, std::string)>("x", "y", "z"_a = "w");
  registry.register_class<Act()>();
  registry.register_class<Pair(std::shared_ptr<Base>, int)>("first", "n", ts::named("Pair"));
  const Json config = ts::parse_json(R"({"name": "Pair", "arguments": {"first": {"name": "Pair", "arguments":
      {"first": "Act", "n": 1}}, "n": 2}})");
  const std::string expected = ts::gethash(registry.create(config));
  const std::vector<std::string> keys{"Worker", "Act", "Pair"};
  const std::size_t live_before = ts::live_entities();
  std::atomic<int> errors{0};
  run_together([&](int t) {
    for (int i = 0; i < iterations; ++i) {
      try {
        switch ((i + t) % 4) {
          case 0: {
            const auto pair = registry.create(config);
            if (ts::gethash(pair) != expected) errors.fetch_add(1);
            if (!dynamic_cast<const Act*>(
                    dynamic_cast<const Pair&>(*dynamic_cast<const Pair&>(*pair).first).first.get())) {
              errors.fetch_add(1);
            }
            break;
          }
          case 1: {
            const auto worker = registry.get("Worker")(i, "z"_a = "k", "y"_a = 1.5);
            if (ts::dumps(ts::getarguments(worker)) !=
                R"({"x": )" + std::to_string(i) + R"(, "z": "k", "y": 1.5})") {
              errors.fetch_add(1);
            }
            break;
          }
          case 2:
            if (registry.keys() != keys) errors.fetch_add(1);
            if (ts::dumps(registry.signature("Pair")) != R"({"first": "Base", "n": "int"})")
              errors.fetch_add(1);
            break;
          default:
            try {
              registry.get("Wroker");
              errors.fetch_add(1);
            } catch (const ts::UnknownNameError& error) {
              if (error.suggestions().empty() || error.suggestions().front() != "Worker") errors.fetch_add(1);
            }
        }
      } catch (...) {
        errors.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(ts::live_entities(), live_before);
}

TEST(Threads, EntitiesHandedBetweenThreads) {
  ts::Registry<Base> registry;
  registry.register_class<Act()>();
  registry.register_class<Pair(std::shared_ptr<Base>, int)>("first", "n", ts::named("Pair"));
  const std::size_t live_before = ts::live_entities();
  // Each thread builds pairs around an activation made by another thread, and drops them in any order.
  std::vector<std::shared_ptr<Base>> acts;
  acts.reserve(thread_count);
  for (int t = 0; t < thread_count; ++t) acts.push_back(registry.get("Act")());
  std::atomic<int> errors{0};
  run_together([&](int t) {
    for (int i = 0; i < iterations; ++i) {
      const auto pair = registry.get("Pair")(acts[(t + 1) % thread_count], i);
      if (ts::dumps(ts::getarguments(pair)) != R"({"first": "Act", "n": )" + std::to_string(i) + "}") {
        errors.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(errors.load(), 0);
  acts.clear();
  EXPECT_EQ(ts::live_entities(), live_before);
}

// a.include(b) and c.include(a) at the same moment, where b already includes c: each call checks for a
// cycle, then adds its edge, so exactly one of them may succeed. If both do, a -> b -> c -> a is a cycle,
// and looking up a name that none of them has recurses without end. Long include chains below a and b
// make both checks slow, so that they overlap. Only the outcomes are checked (no lookup through a cycle).
TEST(Threads, ConcurrentIncludesCannotFormACycle) {
#if defined(__SANITIZE_THREAD__)
  constexpr int chain_length = 20000;  // slower under ThreadSanitizer: shorter chains overlap as well
#else
  constexpr int chain_length = 100000;
#endif
  constexpr int trials = 20;
  std::vector<std::unique_ptr<ts::Registry<Base>>> below_a(chain_length);
  std::vector<std::unique_ptr<ts::Registry<Base>>> below_b(chain_length);
  for (auto& registry : below_a) registry = std::make_unique<ts::Registry<Base>>();
  for (auto& registry : below_b) registry = std::make_unique<ts::Registry<Base>>();
  for (int i = 0; i + 1 < chain_length; ++i) {
    below_a[i]->include(*below_a[i + 1]);
    below_b[i]->include(*below_b[i + 1]);
  }
  int cycles = 0;
  int refused_both = 0;
  for (int trial = 0; trial < trials; ++trial) {
    ts::Registry<Base> a;
    ts::Registry<Base> b;
    ts::Registry<Base> c;
    a.include(*below_a.front());
    b.include(*below_b.front());
    b.include(c);
    std::latch start(2);
    bool a_includes_b = false;
    bool c_includes_a = false;
    std::thread first([&] {
      start.arrive_and_wait();
      try {
        a.include(b);
        a_includes_b = true;
      } catch (const ts::RegistrationError&) {
      }
    });
    std::thread second([&] {
      start.arrive_and_wait();
      try {
        c.include(a);
        c_includes_a = true;
      } catch (const ts::RegistrationError&) {
      }
    });
    first.join();
    second.join();
    cycles += a_includes_b && c_includes_a;
    refused_both += !a_includes_b && !c_includes_a;
  }
  EXPECT_EQ(cycles, 0) << "trials in which both includes succeeded, making a cycle";
  EXPECT_EQ(refused_both, 0) << "trials in which both includes were refused";
}

}  // namespace
