// The checkpoint layer (layer 3) in one include: the store keyed by identity, its descriptions and the
// identity lock. Link torchsystem::checkpoint (find_package(torchsystem COMPONENTS checkpoint)).
#pragma once

#include "torchsystem/checkpoint/checkpoint_info.hpp"
#include "torchsystem/checkpoint/identity_lock.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/torch.hpp"
