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

std::int64_t softmax_dim(const SoftmaxOptions& options, std::int64_t dimensions) {
  if (options.dim()) return *options.dim();
  return (dimensions == 0 || dimensions == 1 || dimensions == 3) ? 0 : 1;
}

namespace {
void print_dim(std::ostream& stream, const char* name, const SoftmaxOptions& options) {
  stream << "torchsystem::nn::" << name << "(dim=";
  if (options.dim())
    stream << *options.dim();
  else
    stream << "None";
  stream << ")";
}
}  // namespace

SoftmaxImpl::SoftmaxImpl(const SoftmaxOptions& options_) : options(options_) {}

torch::Tensor SoftmaxImpl::forward(const torch::Tensor& input) {
  return torch::softmax(input, softmax_dim(options, input.dim()));
}

void SoftmaxImpl::reset() {}

void SoftmaxImpl::pretty_print(std::ostream& stream) const {
  print_dim(stream, "Softmax", options);
}

LogSoftmaxImpl::LogSoftmaxImpl(const SoftmaxOptions& options_) : options(options_) {}

torch::Tensor LogSoftmaxImpl::forward(const torch::Tensor& input) {
  return torch::log_softmax(input, softmax_dim(options, input.dim()));
}

void LogSoftmaxImpl::reset() {}

void LogSoftmaxImpl::pretty_print(std::ostream& stream) const {
  print_dim(stream, "LogSoftmax", options);
}

}  // namespace torchsystem::nn
