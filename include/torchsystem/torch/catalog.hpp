// The catalog: LibTorch's built-in modules, losses and optimizers under their PyTorch names.
//
// Each type is registered once, with PyTorch's parameter names in PyTorch's order and PyTorch's
// defaults, mapped onto LibTorch's options, so that a call records the same arguments (and the same
// hash) as the same call in Python:
//
//   const auto& catalog = torchsystem::torch_catalog();
//   auto conv = catalog.modules.create_as<torch::nn::Conv2d>(parse_json(
//       R"({"name": "Conv2d", "arguments": {"in_channels": 3, "out_channels": 8, "kernel_size": 3}})"));
//   auto adam = catalog.optimizers.create(Json{{"name", "Adam"}, {"arguments", {{"lr", 0.001}}}},
//                                         conv->parameters());
//
// Where LibTorch 1.13 has no equivalent of a PyTorch parameter, the parameter keeps its place (so
// positions line up) and accepts only PyTorch's default; docs/catalog.md lists each such case.
// `device` and `dtype` are not offered: modules are built on the CPU in float32.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "torchsystem/registry.hpp"
#include "torchsystem/torch/module.hpp"

namespace torchsystem {

struct TorchCatalog {
  Registry<torch::nn::Module> modules{"LibTorch modules"};
  Registry<torch::nn::Module> losses{"LibTorch losses"};
  Registry<torch::optim::Optimizer> optimizers{"LibTorch optimizers"};
};

/// The catalog, registered on first use (thread-safe). Include its registries in your own
/// (`models.include(torch_catalog().modules)`) so configurations can name built-in types.
const TorchCatalog& torch_catalog();

}  // namespace torchsystem
