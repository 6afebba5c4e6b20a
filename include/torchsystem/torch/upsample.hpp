// Upsample as PyTorch's torch.nn.Upsample behaves: a single size or scale factor applies to every
// spatial dimension of the input.
//
// LibTorch 1.13's Upsample takes one value per spatial dimension at construction and, with the default
// mode "nearest", cannot know how many the input will have, so `Upsample(scale_factor=2)` -- the most
// common call -- has no LibTorch equivalent. This module keeps a single value as given and repeats it
// when it sees the input, as PyTorch does. The catalog registers it as "Upsample":
//
//   torchsystem::nn::Upsample up(torchsystem::nn::UpsampleOptions().scale_factor(2.0));
//   up(torch::randn({1, 3, 4, 4})).sizes();   // [1, 3, 8, 8]
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/options/upsampling.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <vector>

#include "torchsystem/torch/values.hpp"

namespace torchsystem::nn {

struct UpsampleOptions {
  using size_t = std::optional<OneOrTuple<std::int64_t, 0>>;
  using scale_factor_t = std::optional<OneOrTuple<double, 0>>;
  /// The output's spatial size: one int for every dimension, or one per dimension.
  TORCH_ARG(size_t, size) = std::nullopt;
  /// The multiplier of the spatial size: one float for every dimension, or one per dimension.
  TORCH_ARG(scale_factor_t, scale_factor) = std::nullopt;
  /// "nearest", "linear", "bilinear", "bicubic" or "trilinear", as LibTorch's interpolate takes it.
  TORCH_ARG(torch::nn::functional::InterpolateFuncOptions::mode_t, mode) = torch::kNearest;
  /// For the linear modes: align the corner pixels of input and output. None leaves it to PyTorch's default.
  TORCH_ARG(std::optional<bool>, align_corners) = std::nullopt;
  /// With scale_factor: true computes with the scale the output size implies, as PyTorch's interpolate.
  TORCH_ARG(std::optional<bool>, recompute_scale_factor) = std::nullopt;
};

class UpsampleImpl : public torch::nn::Cloneable<UpsampleImpl> {
 public:
  explicit UpsampleImpl(UpsampleOptions options_ = {});

  /// Resizes `input` (N, C, spatial...) with torch::nn::functional::interpolate.
  torch::Tensor forward(const torch::Tensor& input);

  void reset() override;

  /// Pretty prints the module as `torchsystem::nn::Upsample(scale_factor=2, mode=kNearest)`.
  void pretty_print(std::ostream& stream) const override;

  UpsampleOptions options;
};

TORCH_MODULE(Upsample);

}  // namespace torchsystem::nn
