// A test plugin whose registration fails: two different classes under one name, which the registry
// refuses with a RegistrationError after the first is in.
#include <torch/nn/modules/linear.h>

#include <cstdint>

#include "torchsystem/torch/plugin.hpp"

namespace conflict_plugin {

class WideImpl : public torch::nn::Module {
 public:
  explicit WideImpl(std::int64_t width)
      : layer(register_module("layer", torch::nn::Linear(width, 2 * width))) {}
  torch::Tensor forward(const torch::Tensor& input) { return layer(input); }

 private:
  torch::nn::Linear layer;
};
TORCH_MODULE(Wide);

class NarrowImpl : public torch::nn::Module {
 public:
  explicit NarrowImpl(std::int64_t width) : layer(register_module("layer", torch::nn::Linear(width, 1))) {}
  torch::Tensor forward(const torch::Tensor& input) { return layer(input); }

 private:
  torch::nn::Linear layer;
};
TORCH_MODULE(Narrow);

}  // namespace conflict_plugin

extern "C" void torchsystem_register_plugin(torchsystem::PluginRegistries& registries) {
  torchsystem::register_class<conflict_plugin::Wide(std::int64_t)>("width");
  torchsystem::register_class<conflict_plugin::Narrow(std::int64_t)>("width");
  registries.models.add<conflict_plugin::Wide>("Twin");
  registries.models.add<conflict_plugin::Narrow>("Twin");
}
