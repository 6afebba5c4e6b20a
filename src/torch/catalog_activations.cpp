// The catalog's activation modules.
#include <torch/nn/modules/activation.h>

#include "catalog_support.hpp"

namespace torchsystem::catalog {

void register_activations(TorchCatalog& catalog) {
  auto& modules = catalog.modules;
  modules.register_class<torch::nn::ReLU(bool)>(
      factory([](bool inplace) { return torch::nn::ReLUOptions(inplace); }), "inplace"_a = false);
}

}  // namespace torchsystem::catalog
