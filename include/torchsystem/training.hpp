// The training layer in one include: the checkpoint store keyed by identity, data sets and the training
// job. It brings the LibTorch layer (torchsystem/torch.hpp) and the core with it.
#pragma once

#include "torchsystem/checkpoint.hpp"
#include "torchsystem/training/csv.hpp"
#include "torchsystem/training/datasets.hpp"
#include "torchsystem/training/events.hpp"
#include "torchsystem/training/numpy.hpp"
#include "torchsystem/training/provenance.hpp"
#include "torchsystem/training/synthetic_data.hpp"
#include "torchsystem/training/training_job.hpp"
