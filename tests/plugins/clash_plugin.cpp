// A test plugin registering a model under a catalog name, "Linear": the plugin's shadows the catalog's.
// Loaded twice from two files, its second registration conflicts with the first and throws.
#include <torch/nn/modules/linear.h>

#include <cstdint>

#include "torchsystem/torch/plugin.hpp"

namespace clash_plugin {

class LinearImpl : public torch::nn::Module {
 public:
  explicit LinearImpl(std::int64_t width)
      : layer(register_module("layer", torch::nn::Linear(width, width))) {}
  torch::Tensor forward(const torch::Tensor& input) { return layer(input); }

 private:
  torch::nn::Linear layer;
};
TORCH_MODULE(Linear);

}  // namespace clash_plugin

extern "C" void torchsystem_register_plugin(torchsystem::PluginRegistries& registries) {
  registries.models.register_class<clash_plugin::Linear(std::int64_t)>("width");
}
