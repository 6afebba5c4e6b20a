// The catalog's optimizers. Each takes the parameters to optimize first, in code only: they are left
// out of identity, as the reference's `register(Adam, excluded_args=[0])` does.
#include <torch/optim/adam.h>

#include "catalog_support.hpp"

namespace torchsystem::catalog {

using Parameters = std::vector<torch::Tensor>;

void register_optimizers(TorchCatalog& catalog) {
  auto& optimizers = catalog.optimizers;
  optimizers.register_class<torch::optim::Adam(Parameters, double, std::tuple<double, double>, double, double,
                                               bool, std::optional<bool>, bool, bool, bool,
                                               std::optional<bool>)>(
      factory([](Parameters params, double lr, std::tuple<double, double> betas, double eps,
                 double weight_decay, bool amsgrad, std::optional<bool> foreach, bool maximize,
                 bool capturable, bool differentiable, std::optional<bool> fused) {
        only_default("foreach", foreach, std::nullopt);
        only_default("maximize", maximize, false);
        only_default("capturable", capturable, false);
        only_default("differentiable", differentiable, false);
        only_default("fused", fused, std::nullopt);
        auto options =
            torch::optim::AdamOptions(lr).betas(betas).eps(eps).weight_decay(weight_decay).amsgrad(amsgrad);
        return std::tuple{std::move(params), options};
      }),
      "params", "lr"_a = 0.001, "betas"_a = std::tuple{0.9, 0.999}, "eps"_a = 1e-8, "weight_decay"_a = 0.0,
      "amsgrad"_a = false, "foreach"_a = std::nullopt, "maximize"_a = false, "capturable"_a = false,
      "differentiable"_a = false, "fused"_a = std::nullopt, excluded_args{0}, excluded_kwargs{"params"});
}

}  // namespace torchsystem::catalog
