// PyTorch's `maximize` for LibTorch's optimizers, which LibTorch 1.13 lacks.
//
// The catalog builds SGD, Adam, AdamW, RMSprop and Adagrad as subclasses of LibTorch's optimizers
// (still torch::optim::Adam etc., with LibTorch's options and parameter states) that can maximize the
// objective as PyTorch 1.13's `maximize=True` does. These read and set that flag, e.g. to write
// PyTorch's `param_groups[i]["maximize"]` into a checkpoint and to restore it:
//
//   auto adam = create<torch::optim::Adam>(model->parameters(), "maximize"_a = true);
//   maximizes(*adam);             // true
//   set_maximize(*adam, false);   // minimizes from the next step on
#pragma once

#include <torch/optim/optimizer.h>

namespace torchsystem {

/// True when the optimizer steps up its objective: built with maximize=True, or set so since.
bool maximizes(const torch::optim::Optimizer& optimizer);

/// Makes the optimizer maximize (or minimize) from its next step on. ArgumentError naming "maximize"
/// when `maximize` is true and the optimizer cannot: LBFGS (PyTorch's has no maximize either), and any
/// optimizer not built by the catalog.
void set_maximize(torch::optim::Optimizer& optimizer, bool maximize);

}  // namespace torchsystem
