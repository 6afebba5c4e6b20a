// Activation modules PyTorch has and LibTorch 1.13 lacks: Hardswish and Hardsigmoid; and Softmax and
// LogSoftmax as PyTorch's, whose `dim` may be None (LibTorch's need a dim at construction).
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

#include <cstdint>
#include <optional>
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

/// Options for Softmax and LogSoftmax: the dimension, or None for PyTorch's implicit choice.
struct SoftmaxOptions {
  /* implicit */ SoftmaxOptions(std::optional<std::int64_t> dim = std::nullopt) : dim_(dim) {}

  /// The dimension the values sum to 1 along. None: 0 for inputs of 0, 1 or 3 dimensions, else 1, as
  /// PyTorch chooses (a choice PyTorch deprecates: give the dimension).
  TORCH_ARG(std::optional<std::int64_t>, dim);
};

/// The dimension Softmax and LogSoftmax use for an input of `dimensions` dimensions.
std::int64_t softmax_dim(const SoftmaxOptions& options, std::int64_t dimensions);

/// Softmax along a dimension, as torch.nn.Softmax.
class SoftmaxImpl : public torch::nn::Cloneable<SoftmaxImpl> {
 public:
  explicit SoftmaxImpl(const SoftmaxOptions& options_ = {});
  torch::Tensor forward(const torch::Tensor& input);
  void reset() override;
  /// Pretty prints the module as `torchsystem::nn::Softmax(dim=1)` (or `dim=None`).
  void pretty_print(std::ostream& stream) const override;
  SoftmaxOptions options;
};
TORCH_MODULE(Softmax);

/// The logarithm of Softmax, as torch.nn.LogSoftmax.
class LogSoftmaxImpl : public torch::nn::Cloneable<LogSoftmaxImpl> {
 public:
  explicit LogSoftmaxImpl(const SoftmaxOptions& options_ = {});
  torch::Tensor forward(const torch::Tensor& input);
  void reset() override;
  /// Pretty prints the module as `torchsystem::nn::LogSoftmax(dim=1)` (or `dim=None`).
  void pretty_print(std::ostream& stream) const override;
  SoftmaxOptions options;
};
TORCH_MODULE(LogSoftmax);

}  // namespace torchsystem::nn
