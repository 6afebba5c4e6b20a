// The catalog's loss modules.
#include <torch/nn/modules/loss.h>

#include "catalog_support.hpp"

namespace torchsystem::catalog {

void register_losses(TorchCatalog& catalog) {
  auto& losses = catalog.losses;
  losses.register_class<torch::nn::CrossEntropyLoss(torch::Tensor, std::optional<bool>, std::int64_t,
                                                    std::optional<bool>, std::string, double)>(
      factory([](torch::Tensor weight, std::optional<bool> size_average, std::int64_t ignore_index,
                 std::optional<bool> reduce, std::string reduction, double label_smoothing) {
        only_default("size_average", size_average, std::nullopt);
        only_default("reduce", reduce, std::nullopt);
        return torch::nn::CrossEntropyLossOptions()
            .weight(weight)
            .ignore_index(ignore_index)
            .reduction(enum_option<torch::nn::CrossEntropyLossOptions::reduction_t>("reduction", reduction,
                                                                                    {"none", "mean", "sum"}))
            .label_smoothing(label_smoothing);
      }),
      "weight"_a = torch::Tensor(), "size_average"_a = std::nullopt, "ignore_index"_a = std::int64_t{-100},
      "reduce"_a = std::nullopt, "reduction"_a = std::string("mean"), "label_smoothing"_a = 0.0);
}

}  // namespace torchsystem::catalog
