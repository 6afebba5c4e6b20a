// Speed of the LibTorch layer: building the seed's MLP through the library, in code and from its JSON
// configuration, against building the same LibTorch modules directly. The ratio is what to compare.
//   build/bin/torch_benchmarks --benchmark_min_time=1 --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <torch/nn/modules/activation.h>
#include <torch/utils.h>

#include "seed_models.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

namespace {

const ts::Registry<torch::nn::Module>& models() {
  static const auto* registry = [] {
    auto* built = new ts::Registry<torch::nn::Module>("benchmark models");
    seed::register_seed_models(*built);
    built->include(ts::torch_catalog().modules);
    return built;
  }();
  return *registry;
}

void construct_seed_mlp_directly(benchmark::State& state) {
  torch::set_num_threads(1);
  for (auto _ : state) {
    seed::MLP model(784, 256, 10, 0.5, torch::nn::AnyModule(torch::nn::ReLU()));
    benchmark::DoNotOptimize(model.ptr());
  }
}

void create_seed_mlp_through_library(benchmark::State& state) {
  torch::set_num_threads(1);
  models();
  for (auto _ : state) {
    auto model = ts::create<seed::MLP>(784, 256, 10, "dropout"_a = 0.5,
                                       "activation"_a = ts::create<torch::nn::ReLU>());
    benchmark::DoNotOptimize(model.ptr());
  }
}

void create_seed_mlp_from_config(benchmark::State& state) {
  torch::set_num_threads(1);
  const ts::Json config = ts::parse_json(R"({"name": "MLP", "arguments": {"input_size": 784,
      "hidden_size": 256, "output_size": 10, "dropout": 0.5, "activation": "ReLU"}})");
  for (auto _ : state) {
    auto model = models().create(config);
    benchmark::DoNotOptimize(model.get());
  }
}

}  // namespace

// Interleaved so that the machine's load drifts over all three alike.
BENCHMARK(construct_seed_mlp_directly)->Unit(benchmark::kMicrosecond);
BENCHMARK(create_seed_mlp_through_library)->Unit(benchmark::kMicrosecond);
BENCHMARK(create_seed_mlp_from_config)->Unit(benchmark::kMicrosecond);
