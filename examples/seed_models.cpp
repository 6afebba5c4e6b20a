#include "seed_models.hpp"

#include <torch/nn/functional/activation.h>

#include <utility>

#include "torchsystem/torch/module.hpp"

namespace seed {

MLPImpl::MLPImpl(std::int64_t input_size, std::int64_t hidden_size, std::int64_t output_size, double dropout,
                 torch::nn::AnyModule activation)
    : input_layer(register_module(
          "input_layer", torch::nn::Linear(torch::nn::LinearOptions(input_size, hidden_size).bias(true)))),
      activation(std::move(activation)),
      dropout(register_module("dropout", torchsystem::nn::Dropout(dropout))),
      output_layer(register_module("output_layer", torch::nn::Linear(hidden_size, output_size))) {
  register_module("activation", this->activation.ptr());
}

torch::Tensor MLPImpl::forward(torch::Tensor input) {
  return output_layer(dropout(activation.forward(input_layer(input))));
}

GLUImpl::GLUImpl(std::int64_t input_size, std::int64_t hidden_size, std::int64_t output_size, double dropout,
                 torch::nn::AnyModule activation)
    : input_layer(register_module("input_layer", torch::nn::Linear(input_size, hidden_size))),
      gate_layer(register_module("gate_layer", torch::nn::Linear(input_size, hidden_size))),
      activation(std::move(activation)),
      dropout(register_module("dropout", torchsystem::nn::Dropout(dropout))),
      output_layer(register_module("output_layer", torch::nn::Linear(hidden_size, output_size))) {
  register_module("activation", this->activation.ptr());
}

torch::Tensor GLUImpl::forward(torch::Tensor input) {
  const auto hidden = activation.forward(input_layer(input)) * torch::sigmoid(gate_layer(input));
  return output_layer(dropout(hidden));
}

void register_seed_models(torchsystem::Registry<torch::nn::Module>& registry) {
  registry.register_class<MLP(std::int64_t, std::int64_t, std::int64_t, double, torch::nn::AnyModule)>(
      "input_size", "hidden_size", "output_size", "dropout", "activation");
  registry.register_class<GLU(std::int64_t, std::int64_t, std::int64_t, double, torch::nn::AnyModule)>(
      "input_size", "hidden_size", "output_size", "dropout", "activation");
}

}  // namespace seed
