// LibTorch's optimizers with PyTorch 1.13's `maximize` (private to the LibTorch layer; the public
// queries are in torchsystem/torch/optimizers.hpp).
//
// PyTorch 1.13 negates each gradient at the very start of the update, before weight decay is added, so
// a maximizing step is the base optimizer's step on the negated gradients. Subclassing keeps the
// optimizer a torch::optim::Adam (etc.) with LibTorch's options and parameter states, which the
// checkpoint code reads.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <memory>
#include <utility>

namespace torchsystem::optim {

/// The flag a maximizing optimizer carries; `maximizes` finds it by cross-cast.
class Maximizable {
 public:
  virtual ~Maximizable() = default;
  bool maximize = false;
};

/// Negates the gradients of every parameter in the optimizer's groups, in place.
void negate_gradients(torch::optim::Optimizer& optimizer);

/// Base (torch::optim::Adam, SGD, ...) whose step maximizes when `maximize` is set.
template <class Base>
class Maximizing final : public Base, public Maximizable {
 public:
  using Base::Base;

  /// The closure computes the gradients, so they are negated after it and the base steps without it;
  /// then they are negated back, so that p.grad() stays what the user's backward produced.
  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    if (!maximize) return Base::step(std::move(closure));
    torch::Tensor loss;
    if (closure) {
      torch::AutoGradMode enable_grad(true);
      loss = closure();
    }
    negate_gradients(*this);
    try {
      Base::step(nullptr);
    } catch (...) {
      negate_gradients(*this);
      throw;
    }
    negate_gradients(*this);
    return loss;
  }
};

/// A Base over `params` with `options`, maximizing when `maximize` is true.
template <class Base, class Params, class Options>
std::unique_ptr<Base> make_maximizing(Params params, const Options& options, bool maximize) {
  auto optimizer = std::make_unique<Maximizing<Base>>(std::move(params), options);
  optimizer->maximize = maximize;
  return optimizer;
}

}  // namespace torchsystem::optim
