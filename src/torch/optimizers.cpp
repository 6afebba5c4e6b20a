// The optimizers' maximize flag (see torchsystem/torch/optimizers.hpp and maximizing.hpp).
#include "torchsystem/torch/optimizers.hpp"

#include "maximizing.hpp"
#include "torchsystem/error.hpp"

namespace torchsystem {

namespace optim {

void negate_gradients(torch::optim::Optimizer& optimizer) {
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer.param_groups()) {
    for (auto& parameter : group.params()) {
      if (parameter.grad().defined()) parameter.mutable_grad().neg_();
    }
  }
}

}  // namespace optim

bool maximizes(const torch::optim::Optimizer& optimizer) {
  const auto* maximizable = dynamic_cast<const optim::Maximizable*>(&optimizer);
  return maximizable != nullptr && maximizable->maximize;
}

void set_maximize(torch::optim::Optimizer& optimizer, bool maximize) {
  auto* maximizable = dynamic_cast<optim::Maximizable*>(&optimizer);
  if (maximizable != nullptr) {
    maximizable->maximize = maximize;
  } else if (maximize) {
    throw ArgumentError("maximize",
                        "this optimizer cannot maximize: only SGD, Adam, AdamW, RMSprop and Adagrad built by "
                        "the catalog can (LBFGS has no maximize, as in PyTorch)");
  }
}

}  // namespace torchsystem
