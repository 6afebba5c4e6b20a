// The seed's two examples in C++: a model, a loss and an optimizer built through the registry with
// their identities, then a Registry of two user models with the same constructor.
//
// Python:
//   register(ReLU); register(MLP); register(CrossEntropyLoss); register(Adam, excluded_args=[0])
//   model = MLP(784, 256, 10, dropout=0.5, activation=ReLU())
//   criterion = CrossEntropyLoss()
//   optimizer = Adam(model.parameters(), lr=0.001)
// LibTorch's ReLU, CrossEntropyLoss and Adam come registered (Adam without its first argument).
#include <torch/torch.h>

#include <iostream>

#include "seed_models.hpp"
#include "torchsystem/torch.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

int main() {
  ts::Registry<torch::nn::Module> registry;
  seed::register_seed_models(registry);

  seed::MLP model =
      ts::create<seed::MLP>(784, 256, 10, "dropout"_a = 0.5, "activation"_a = ts::create<torch::nn::ReLU>());
  auto criterion = ts::create<torch::nn::CrossEntropyLoss>();
  auto optimizer = ts::create<torch::optim::Adam>(model->parameters(), "lr"_a = 0.001);

  std::cout << "gethash(model):           " << ts::gethash(model) << "\n"
            << "getarguments(model):      " << ts::dumps(ts::getarguments(model)) << "\n"
            << "getarguments(criterion):  " << ts::dumps(ts::getarguments(criterion)) << "\n"
            << "getarguments(optimizer):  " << ts::dumps(ts::getarguments(optimizer)) << "\n";

  std::cout << "registry.keys():          " << ts::dumps(ts::Json(registry.keys())) << "\n";
  for (const auto& name : registry.keys()) {
    std::cout << "registry.signature(" << name << "): " << ts::dumps(registry.signature(name)) << "\n";
  }

  // The model is an ordinary LibTorch module: one training step on random data.
  const auto input = torch::randn({4, 784});
  const auto target = torch::randint(0, 10, {4});
  optimizer->zero_grad();
  const auto loss = criterion(model(input), target);
  loss.backward();
  optimizer->step();
  std::cout << "one training step:        loss " << loss.item<double>() << " over "
            << ts::parameter_count(*model) << " parameters\n";
}
