// Where a program looks names up: the models its plugins registered, then the catalog's modules, losses
// and optimizers. One place decides the order, for listing, describing, building and rebuilding alike.
//
//   const Registries registries(plugin_models);       // or Registries() for the catalog alone
//   registries.models_for("Linear").create(config);   // a catalog module is a model too
//   for (const auto& group : registries.groups()) ...  // `torchsystem list`'s sections, in order
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstddef>
#include <string_view>
#include <vector>

#include "torchsystem/registry.hpp"

namespace torchsystem {

/// One registry of a program, as listings show it.
struct RegistryGroup {
  std::string_view title;  ///< "Models from plugins", "Modules", "Losses", "Optimizers"
  std::string_view kind;   ///< "module", "loss" or "optimizer"
  const RegistryBase* registry = nullptr;
};

class Registries {
 public:
  /// The catalog alone.
  Registries();
  /// `models` (a program's plugin models, which include the catalog's modules for nested names), then
  /// the catalog. A name in `models` shadows a catalog module of the same name.
  explicit Registries(const Registry<torch::nn::Module>& models);

  /// In the order names are looked up: the plugins' models when there are any, then the catalog's
  /// modules, losses and optimizers.
  std::vector<RegistryGroup> groups() const;
  /// The group holding `name`; throws UnknownNameError (`unknown name "X" in <where>`) with at most
  /// `limit` close names from every group otherwise.
  RegistryGroup find(std::string_view name, std::string_view where = "torchsystem",
                     std::size_t limit = 3) const;

  /// The registry a model named `name` is built from: the plugins' models when they have it, else the
  /// catalog's modules when they do, else the plugins' models (whose error lists close names of both).
  const Registry<torch::nn::Module>& models_for(std::string_view name) const;
  const Registry<torch::nn::Module>& losses() const;
  const Registry<torch::optim::Optimizer>& optimizers() const;

 private:
  const Registry<torch::nn::Module>* models_ = nullptr;
};

}  // namespace torchsystem
