// The seed's two user models, MLP and GLU: one constructor, two architectures, two identities.
//
// They are ordinary LibTorch modules. register_seed_models() registers both in a registry (and so
// process-wide), as the seed's `registry.register(MLP); registry.register(GLU)` does.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "torchsystem/registry.hpp"
#include "torchsystem/torch/dropout.hpp"

namespace seed {

/// input_layer = Linear(input_size, hidden_size, bias=True), then the activation, Dropout(dropout),
/// and output_layer = Linear(hidden_size, output_size).
class MLPImpl : public torch::nn::Module {
 public:
  MLPImpl(std::int64_t input_size, std::int64_t hidden_size, std::int64_t output_size, double dropout,
          torch::nn::AnyModule activation);
  torch::Tensor forward(torch::Tensor input);

 private:
  torch::nn::Linear input_layer;
  torch::nn::AnyModule activation;
  torchsystem::nn::Dropout dropout;
  torch::nn::Linear output_layer;
};
TORCH_MODULE(MLP);

/// A gated variant: the activated hidden layer is multiplied by a sigmoid gate computed from the input.
class GLUImpl : public torch::nn::Module {
 public:
  GLUImpl(std::int64_t input_size, std::int64_t hidden_size, std::int64_t output_size, double dropout,
          torch::nn::AnyModule activation);
  torch::Tensor forward(torch::Tensor input);

 private:
  torch::nn::Linear input_layer;
  torch::nn::Linear gate_layer;
  torch::nn::AnyModule activation;
  torchsystem::nn::Dropout dropout;
  torch::nn::Linear output_layer;
};
TORCH_MODULE(GLU);

/// Registers MLP and GLU in `registry`, in that order, with the seed's parameter names.
void register_seed_models(torchsystem::Registry<torch::nn::Module>& registry);

}  // namespace seed
