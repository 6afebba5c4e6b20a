// The installed LibTorch and checkpoint layers: a user's model registered beside the catalog, a catalog
// module built from JSON, and an aggregate built from JSON, saved and found again by identity.
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <filesystem>
#include <iostream>

#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/aggregate.hpp"
#include "torchsystem/torch/catalog.hpp"
#include "torchsystem/torch/module.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

class TinyImpl : public torch::nn::Module {
 public:
  TinyImpl(std::int64_t width, double scale) : layer(register_module("layer", torch::nn::Linear(width, 1))) {
    (void)scale;
  }
  torch::Tensor forward(const torch::Tensor& input) { return layer(input); }

 private:
  torch::nn::Linear layer;
};
TORCH_MODULE(Tiny);

int main() {
  ts::Registry<torch::nn::Module> models("downstream models");
  models.register_class<Tiny(std::int64_t, double)>("width", "scale"_a = 1.0);
  models.include(ts::torch_catalog().modules);  // for nested names, such as an activation argument

  const auto tiny = models.create_as<Tiny>(ts::parse_json(R"({"name": "Tiny", "arguments": {"width": 4}})"));
  std::cout << ts::getname(tiny) << " " << ts::dumps(ts::getarguments(tiny)) << " " << ts::gethash(tiny)
            << "\n";

  const auto linear = ts::torch_catalog().modules.create(
      ts::parse_json(R"({"name": "Linear", "arguments": {"in_features": 784, "out_features": 10}})"));
  std::cout << ts::getname(linear) << " " << ts::dumps(ts::getarguments(linear)) << " " << ts::gethash(linear)
            << "\n";

  const auto store_dir = std::filesystem::temp_directory_path() / "torchsystem-downstream-store";
  std::filesystem::remove_all(store_dir);
  const ts::CheckpointStore store(store_dir);
  std::cout << "checkpoint " << store.path_for(ts::getname(tiny), ts::gethash(tiny)).filename().string()
            << "\n";
  const ts::Aggregate aggregate = ts::build_aggregate(
      ts::parse_json(R"({"name": "Linear", "arguments": {"in_features": 784, "out_features": 10}})"),
      ts::parse_json(R"({"name": "MSELoss"})"),
      ts::parse_json(R"({"name": "SGD", "arguments": {"lr": 0.1}})"), ts::Registries(models));
  aggregate.set_epoch(2);
  store.save(aggregate);
  const auto found = store.find(aggregate.name(), aggregate.hash());
  std::cout << "saved " << aggregate.name() << "-" << aggregate.hash() << " found epoch "
            << (found ? found->epoch : -1) << "\n";
  std::filesystem::remove_all(store_dir);
}
