// Speed of the core: capture overhead, gethash, registry lookup and building from a configuration.
//
// Each figure has a baseline measured in the same run (the machines are shared and noisy, so ratios
// are what to compare): constructing directly, hashing the identity text alone, a plain hash map.
//   build/bin/core_benchmarks --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

namespace {

struct Point {
  Point(int x, double y, std::string z) : x(x), y(y), z(std::move(z)) {}
  int x;
  double y;
  std::string z;
};

struct Layer {
  virtual ~Layer() = default;
};

struct ReLU : Layer {};

struct MLP : Layer {
  MLP(int input_size, int hidden_size, int output_size, double dropout, std::shared_ptr<Layer> activation)
      : input_size(input_size),
        hidden_size(hidden_size),
        output_size(output_size),
        dropout(dropout),
        activation(std::move(activation)) {}
  int input_size, hidden_size, output_size;
  double dropout;
  std::shared_ptr<Layer> activation;
};

ts::Registry<Layer>& layers() {
  static ts::Registry<Layer> registry = [] {
    ts::register_class<Point(int, double, std::string)>("x", "y", "z");
    return ts::Registry<Layer>{};
  }();
  static const bool registered = [] {
    registry.register_class<ReLU()>();
    registry.register_class<MLP(int, int, int, double, std::shared_ptr<Layer>)>(
        "input_size", "hidden_size", "output_size", "dropout", "activation");
    return true;
  }();
  (void)registered;
  return registry;
}

const ts::Json& seed_config() {
  static const ts::Json config = ts::parse_json(
      R"({"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10,)"
      R"( "dropout": 0.5, "activation": "ReLU"}})");
  return config;
}

void construct_directly(benchmark::State& state) {
  for (auto _ : state) {
    auto point = std::make_shared<Point>(1, 2.0, "3");
    benchmark::DoNotOptimize(point);
  }
}
BENCHMARK(construct_directly);

void create_through_library(benchmark::State& state) {
  layers();
  for (auto _ : state) {
    auto point = ts::create<Point>(1, 2.0, "3");
    benchmark::DoNotOptimize(point);
  }
}
BENCHMARK(create_through_library);

void create_with_keywords(benchmark::State& state) {
  layers();
  for (auto _ : state) {
    auto point = ts::create<Point>("z"_a = "3", "x"_a = 1, "y"_a = 2.0);
    benchmark::DoNotOptimize(point);
  }
}
BENCHMARK(create_with_keywords);

void md5_of_identity_text(benchmark::State& state) {
  auto mlp = layers().get("MLP")(784, 256, 10, "dropout"_a = 0.5, "activation"_a = layers().get("ReLU")());
  const std::string text = ts::identity_text("MLP", ts::getarguments(mlp));
  for (auto _ : state) benchmark::DoNotOptimize(ts::md5_hex(text));
}
BENCHMARK(md5_of_identity_text);

void gethash_of_seed_mlp(benchmark::State& state) {
  auto mlp = layers().get("MLP")(784, 256, 10, "dropout"_a = 0.5, "activation"_a = layers().get("ReLU")());
  for (auto _ : state) benchmark::DoNotOptimize(ts::gethash(mlp));
}
BENCHMARK(gethash_of_seed_mlp);

std::vector<std::string> lookup_names() {
  std::vector<std::string> names;
  names.reserve(10'000);
  for (int i = 0; i < 10'000; ++i) names.push_back("Model" + std::to_string(i * 7919 % 10'007));
  return names;
}

void lookup_in_plain_map(benchmark::State& state) {
  const auto names = lookup_names();
  std::unordered_map<std::string, int> map;
  for (const auto& name : names) map.emplace(name, 0);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map.find(names[i++ % names.size()]));
  }
}
BENCHMARK(lookup_in_plain_map);

void lookup_among_10000_names(benchmark::State& state) {
  const auto names = lookup_names();
  static ts::Registry<Layer> many("registry of 10,000");
  if (many.size() == 0) {
    layers();
    for (const auto& name : names) many.add<ReLU>(name);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(many.info(names[i++ % names.size()]));
  }
}
BENCHMARK(lookup_among_10000_names);

void construct_seed_mlp_directly(benchmark::State& state) {
  for (auto _ : state) {
    auto mlp = std::make_shared<MLP>(784, 256, 10, 0.5, std::make_shared<ReLU>());
    benchmark::DoNotOptimize(mlp);
  }
}
BENCHMARK(construct_seed_mlp_directly);

void create_seed_mlp_in_code(benchmark::State& state) {
  const auto mlp = layers().get("MLP");
  const auto relu = layers().get("ReLU");
  for (auto _ : state) {
    auto model = mlp(784, 256, 10, "dropout"_a = 0.5, "activation"_a = relu());
    benchmark::DoNotOptimize(model);
  }
}
BENCHMARK(create_seed_mlp_in_code);

void create_seed_mlp_from_config(benchmark::State& state) {
  const auto& registry = layers();
  const auto& config = seed_config();
  for (auto _ : state) {
    auto model = registry.create(config);
    benchmark::DoNotOptimize(model);
  }
}
BENCHMARK(create_seed_mlp_from_config);

}  // namespace
