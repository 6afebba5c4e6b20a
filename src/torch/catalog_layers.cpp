// The catalog's layers: linear, convolution, pooling, normalization, dropout and embedding modules.
#include <torch/nn/modules/linear.h>

#include "catalog_support.hpp"

namespace torchsystem::catalog {

void register_layers(TorchCatalog& catalog) {
  auto& modules = catalog.modules;
  modules.register_class<torch::nn::Linear(std::int64_t, std::int64_t, bool)>(
      factory([](std::int64_t in_features, std::int64_t out_features, bool bias) {
        return torch::nn::LinearOptions(in_features, out_features).bias(bias);
      }),
      "in_features", "out_features", "bias"_a = true);
}

}  // namespace torchsystem::catalog
