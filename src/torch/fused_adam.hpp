// Adam with its update fused into one pass over each parameter (private to the LibTorch layer).
//
// LibTorch 1.13's Adam::step runs the update as about ten tensor operations per parameter, each a pass
// over memory, three of them allocating a temporary. For the small models the catalog serves, that
// dominates a training step more than the matrix products do (docs/benchmarks.md). FusedAdam reads the
// gradient, the parameter and the two moments once and writes them once, for float32 CPU tensors; any
// other tensor (a double parameter, a sparse or strided gradient), or a processor without fused
// multiply-add, takes LibTorch's own step. The arithmetic is LibTorch's, in its order and with its fused
// multiply-adds, so the results are LibTorch's bit for bit (tests/torch/fused_adam_test.cpp); the state
// stays LibTorch's AdamParamState, so checkpoints and serialization see no difference.
#pragma once

#include <torch/optim/adam.h>

namespace torchsystem::optim {

class FusedAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace torchsystem::optim
