// Activation modules PyTorch has and LibTorch 1.13 lacks: Hardswish and Hardsigmoid.
//
// They are written the way LibTorch writes its own activations (an Impl deriving from Cloneable, an
// options struct, TORCH_MODULE for the holder) and compute through ATen's functions, so they behave as
// torch.nn.Hardswish and torch.nn.Hardsigmoid do. The catalog registers them under those names:
//
//   torchsystem::nn::Hardswish act(torchsystem::nn::HardswishOptions().inplace(true));
//   auto same = torch_catalog().modules.create_as<torchsystem::nn::Hardswish>(
//       Json{{"name", "Hardswish"}, {"arguments", {{"inplace", true}}}});
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <ostream>

namespace torchsystem::nn {

/// Options for the Hardswish module.
struct HardswishOptions {
  /* implicit */ HardswishOptions(bool inplace = false) : inplace_(inplace) {}

  /// can optionally do the operation in-place. Default: False
  TORCH_ARG(bool, inplace);
};

/// Applies Hardswish element-wise: 0 for x <= -3, x for x >= 3, x * (x + 3) / 6 between.
class HardswishImpl : public torch::nn::Cloneable<HardswishImpl> {
 public:
  explicit HardswishImpl(const HardswishOptions& options_ = {});

  torch::Tensor forward(torch::Tensor input);

  void reset() override;

  /// Pretty prints the module as `torchsystem::nn::Hardswish(inplace=true)`.
  void pretty_print(std::ostream& stream) const override;

  /// The options with which this module was constructed.
  HardswishOptions options;
};

TORCH_MODULE(Hardswish);

/// Options for the Hardsigmoid module.
struct HardsigmoidOptions {
  /* implicit */ HardsigmoidOptions(bool inplace = false) : inplace_(inplace) {}

  /// can optionally do the operation in-place. Default: False
  TORCH_ARG(bool, inplace);
};

/// Applies Hardsigmoid element-wise: 0 for x <= -3, 1 for x >= 3, x / 6 + 1 / 2 between.
class HardsigmoidImpl : public torch::nn::Cloneable<HardsigmoidImpl> {
 public:
  explicit HardsigmoidImpl(const HardsigmoidOptions& options_ = {});

  torch::Tensor forward(torch::Tensor input);

  void reset() override;

  /// Pretty prints the module as `torchsystem::nn::Hardsigmoid(inplace=true)`.
  void pretty_print(std::ostream& stream) const override;

  /// The options with which this module was constructed.
  HardsigmoidOptions options;
};

TORCH_MODULE(Hardsigmoid);

}  // namespace torchsystem::nn
