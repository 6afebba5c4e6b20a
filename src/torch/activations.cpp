// The project's own activation modules (see torchsystem/torch/activations.hpp).
#include "torchsystem/torch/activations.hpp"

namespace torchsystem::nn {

HardswishImpl::HardswishImpl(const HardswishOptions& options_) : options(options_) {}

torch::Tensor HardswishImpl::forward(torch::Tensor input) {
  return options.inplace() ? torch::hardswish_(input) : torch::hardswish(input);
}

void HardswishImpl::reset() {}

void HardswishImpl::pretty_print(std::ostream& stream) const {
  stream << "torchsystem::nn::Hardswish(";
  if (options.inplace()) stream << "inplace=true";
  stream << ")";
}

HardsigmoidImpl::HardsigmoidImpl(const HardsigmoidOptions& options_) : options(options_) {}

torch::Tensor HardsigmoidImpl::forward(torch::Tensor input) {
  return options.inplace() ? torch::hardsigmoid_(input) : torch::hardsigmoid(input);
}

void HardsigmoidImpl::reset() {}

void HardsigmoidImpl::pretty_print(std::ostream& stream) const {
  stream << "torchsystem::nn::Hardsigmoid(";
  if (options.inplace()) stream << "inplace=true";
  stream << ")";
}

}  // namespace torchsystem::nn
