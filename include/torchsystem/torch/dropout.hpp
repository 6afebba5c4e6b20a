// Dropout whose mask costs one pass: torchsystem::nn::Dropout, a drop-in for torch::nn::Dropout.
//
// LibTorch 1.13's dropout draws its Bernoulli mask one element at a time from the CPU generator, which
// took about a fifth of the main job's epoch (docs/benchmarks.md). This one draws the mask from a
// counter-based generator (SplitMix64 over the element index, two 32-bit draws per 64-bit word), seeded
// once per call from LibTorch's default CPU generator. So:
// - torch::manual_seed governs it, and the mask is the same for any number of threads;
// - each element is kept with probability 1 - p (to 2^-32) and scaled by 1 / (1 - p), as PyTorch's is;
// - gradients flow through an ordinary product with the mask, as they do in PyTorch.
// It has no parameters or buffers, so a model's state dict is the same with either Dropout.
//
//   torchsystem::nn::Dropout dropout(torch::nn::DropoutOptions().p(0.5));
//   auto y = dropout(x);                                 // training mode: a fresh mask
//   auto z = torchsystem::nn::functional::dropout(x, 0.5, /*training=*/false);  // z is x
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/options/dropout.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <ostream>

namespace torchsystem::nn {

namespace functional {
/// PyTorch's F.dropout(input, p, training, inplace) with the one-pass mask. Float and double tensors on
/// the CPU take the fast path; any other tensor goes to LibTorch's dropout. Throws std::invalid_argument
/// unless 0 <= p <= 1.
torch::Tensor dropout(torch::Tensor input, double p = 0.5, bool training = true, bool inplace = false);
}  // namespace functional

/// Zeroes each element with probability p during training and scales the rest by 1 / (1 - p).
class DropoutImpl : public torch::nn::Cloneable<DropoutImpl> {
 public:
  explicit DropoutImpl(const torch::nn::DropoutOptions& options_ = {});
  explicit DropoutImpl(double p) : DropoutImpl(torch::nn::DropoutOptions(p)) {}

  torch::Tensor forward(torch::Tensor input);

  /// Checks p; throws std::invalid_argument unless 0 <= p <= 1.
  void reset() override;

  /// Pretty prints the module as `torchsystem::nn::Dropout(p=0.5, inplace=false)`.
  void pretty_print(std::ostream& stream) const override;

  /// The options with which this module was constructed.
  torch::nn::DropoutOptions options;
};

TORCH_MODULE(Dropout);

}  // namespace torchsystem::nn
