// Concurrency stress: 8 threads each run 100,000 create / gethash / destroy cycles with registry look-ups
// (get, keys, contains, building by name and from a configuration) in between, check every result, and
// check that every entity's record is gone at the end. Run under ThreadSanitizer it looks for races in
// the records, the class table and the registries; under LeakSanitizer, for records that outlive their
// object. TORCHSYSTEM_STRESS_CYCLES changes the cycles per thread (default 100000) for quick local runs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;
using ts::Json;

namespace {

namespace stress_test {

constexpr int thread_count = 8;
constexpr int default_cycles = 100'000;
constexpr int variants = 16;  // distinct argument sets, so hashes differ between neighbouring cycles

struct Base {
  virtual ~Base() = default;
};

struct Cell : Base {
  Cell(int a, double b, std::string c) : x(a), y(b), z(std::move(c)) {}
  int x;
  double y;
  std::string z;
};

struct Gate : Base {};

struct Stack : Base {
  Stack(std::shared_ptr<Base> i, int d) : inner(std::move(i)), depth(d) {}
  std::shared_ptr<Base> inner;
  int depth;
};

int cycles_per_thread() {
  if (const char* text = std::getenv("TORCHSYSTEM_STRESS_CYCLES")) {
    const int cycles = std::atoi(text);
    if (cycles > 0) return cycles;
  }
  return default_cycles;
}

// What one cycle must produce for variant k, computed once on the main thread.
struct Expected {
  std::string cell_hash;    // Cell(k, k / 4.0, z=str(k)) as passed to create<Cell> and get("Cell")
  std::string config_hash;  // Cell built from {"name": "Cell", "arguments": {...}} with the same values
  std::string stack_hash;   // Stack(inner=Cell(...), depth=k) built from a nested configuration
  Json cell_config;         // {"name": "Cell", "arguments": {...}}
  Json stack_config;        // {"name": "Stack", "arguments": {"inner": <cell_config>, "depth": k}}
};

}  // namespace stress_test

using namespace stress_test;

TEST(Stress, CreateHashDestroyWithLookupsOnEightThreads) {
  ts::Registry<Base> registry;
  registry.register_class<Cell(int, double, std::string)>("x", "y", "z"_a = "none");
  registry.register_class<Gate()>();
  registry.register_class<Stack(std::shared_ptr<Base>, int)>("inner", "depth");
  const std::vector<std::string> keys{"Cell", "Gate", "Stack"};

  std::vector<Expected> expected(variants);
  for (int k = 0; k < variants; ++k) {
    auto& e = expected[k];
    const auto cell = ts::create<Cell>(k, k / 4.0, "z"_a = std::to_string(k));
    e.cell_hash = ts::gethash(cell);
    e.cell_config = Json::object();
    e.cell_config["name"] = "Cell";
    e.cell_config["arguments"] = ts::getarguments(cell);
    e.config_hash = ts::gethash(registry.create(e.cell_config));
    e.stack_config = Json::object();
    e.stack_config["name"] = "Stack";
    e.stack_config["arguments"] = Json::object();
    e.stack_config["arguments"]["inner"] = e.cell_config;
    e.stack_config["arguments"]["depth"] = k;
    e.stack_hash = ts::gethash(registry.create(e.stack_config));
  }
  // The same arguments give the same identity however the object is built.
  ASSERT_EQ(expected[3].cell_hash, expected[3].config_hash);
  ASSERT_EQ(ts::dumps(expected[3].cell_config),
            R"({"name": "Cell", "arguments": {"x": 3, "y": 0.75, "z": "3"}})");
  ASSERT_NE(expected[3].cell_hash, expected[4].cell_hash);

  const int cycles = cycles_per_thread();
  const std::size_t live_before = ts::live_entities();
  std::atomic<long> errors{0};
  std::atomic<long> done{0};
  std::latch start(thread_count);
  const auto began = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> threads;
    threads.reserve(thread_count);
    for (int t = 0; t < thread_count; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        long local_errors = 0;
        for (int i = 0; i < cycles; ++i) {
          const int k = (i + t) % variants;
          const Expected& e = expected[k];
          try {
            // Create and hash one entity, built a different way each cycle; it is destroyed at the end
            // of the iteration, while the other threads create and destroy theirs.
            switch (i % 4) {
              case 0: {
                const auto cell = ts::create<Cell>(k, k / 4.0, "z"_a = std::to_string(k));
                if (ts::gethash(cell) != e.cell_hash || cell->x != k) ++local_errors;
                break;
              }
              case 1: {
                const auto cell = registry.get("Cell")(k, k / 4.0, "z"_a = std::to_string(k));
                if (ts::gethash(cell) != e.cell_hash) ++local_errors;
                if (dynamic_cast<const Cell&>(*cell).z != std::to_string(k)) ++local_errors;
                break;
              }
              case 2: {
                const auto cell = registry.create(e.cell_config);
                if (ts::gethash(cell) != e.config_hash) ++local_errors;
                if (ts::getmetadata(cell).at("arguments") != e.cell_config.at("arguments")) ++local_errors;
                break;
              }
              default: {
                const auto stack = registry.create(e.stack_config);
                if (ts::gethash(stack) != e.stack_hash) ++local_errors;
                const auto& inner = dynamic_cast<const Stack&>(*stack).inner;
                if (!inner || ts::gethash(inner) != e.cell_hash) ++local_errors;
                break;
              }
            }
            // Look-ups in between.
            switch (i % 3) {
              case 0:
                if (registry.keys() != keys) ++local_errors;
                break;
              case 1:
                if (!registry.contains("Gate") || registry.contains("Missing")) ++local_errors;
                break;
              default:
                if (ts::getname(registry.get("Gate")()) != "Gate") ++local_errors;
                break;
            }
          } catch (const std::exception&) {
            ++local_errors;
          }
        }
        errors.fetch_add(local_errors);
        done.fetch_add(cycles);
      });
    }
  }  // the jthreads join here
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
  RecordProperty("cycles", static_cast<int>(done.load()));
  std::printf("stress: %d threads x %d cycles in %.2f s\n", thread_count, cycles, took.count());

  EXPECT_EQ(done.load(), static_cast<long>(thread_count) * cycles);
  EXPECT_EQ(errors.load(), 0);
  // Every entity made by the threads is gone, and with it its record: the metadata store is as before.
  EXPECT_EQ(ts::live_entities(), live_before);
}

}  // namespace
