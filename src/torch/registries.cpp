// The registries a program looks names up in (see registries.hpp).
#include "torchsystem/torch/registries.hpp"

#include <string>

#include "torchsystem/torch/catalog.hpp"

namespace torchsystem {

Registries::Registries() = default;

Registries::Registries(const Registry<torch::nn::Module>& models) : models_(&models) {}

std::vector<RegistryGroup> Registries::groups() const {
  const TorchCatalog& catalog = torch_catalog();
  std::vector<RegistryGroup> groups;
  if (models_ != nullptr && models_->size() > 0) groups.push_back({"Models from plugins", "module", models_});
  groups.push_back({"Modules", "module", &catalog.modules});
  groups.push_back({"Losses", "loss", &catalog.losses});
  groups.push_back({"Optimizers", "optimizer", &catalog.optimizers});
  return groups;
}

RegistryGroup Registries::find(std::string_view name, std::string_view where, std::size_t limit) const {
  const auto all_groups = groups();
  for (const RegistryGroup& group : all_groups) {
    if (group.registry->contains(name)) return group;
  }
  std::vector<std::string> all;
  for (const RegistryGroup& group : all_groups) {
    for (auto& key : group.registry->keys()) all.push_back(std::move(key));
  }
  throw UnknownNameError(std::string(name), detail::close_names(name, all, limit), std::string(where));
}

const Registry<torch::nn::Module>& Registries::models_for(std::string_view name) const {
  const auto& modules = torch_catalog().modules;
  if (models_ == nullptr) return modules;
  if (!models_->contains(name) && modules.contains(name)) return modules;
  return *models_;
}

const Registry<torch::nn::Module>& Registries::losses() const {
  return torch_catalog().losses;
}

const Registry<torch::optim::Optimizer>& Registries::optimizers() const {
  return torch_catalog().optimizers;
}

}  // namespace torchsystem
