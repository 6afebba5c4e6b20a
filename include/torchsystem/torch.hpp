// The LibTorch layer in one include: module holders and optimizers as entities, the catalog of
// LibTorch's built-in types under their PyTorch names, and the core registry.
#pragma once

#include "torchsystem/torch/activations.hpp"
#include "torchsystem/torch/aggregate.hpp"
#include "torchsystem/torch/allocation_limit.hpp"
#include "torchsystem/torch/catalog.hpp"
#include "torchsystem/torch/dropout.hpp"
#include "torchsystem/torch/model.hpp"
#include "torchsystem/torch/module.hpp"
#include "torchsystem/torch/optimizers.hpp"
#include "torchsystem/torch/plugin.hpp"
#include "torchsystem/torch/registries.hpp"
#include "torchsystem/torch/script_model.hpp"
#include "torchsystem/torch/transformer.hpp"
#include "torchsystem/torch/upsample.hpp"
#include "torchsystem/torch/values.hpp"
#include "torchsystem/torchsystem.hpp"
