// PyTorch's `state_dict()` forms of LibTorch's modules and optimizers, as pickle trees (pickle.hpp).
//
// A module's state dict maps the dotted names of its parameters and buffers to tensors, in the order
// PyTorch's `Module.state_dict()` walks a module (its own parameters, its own buffers, then each child).
// An optimizer's is `{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}` with
// PyTorch 1.13's key names and types for SGD, Adam, AdamW, Adagrad, RMSprop and LBFGS, the parameters
// numbered across groups in order. Loading checks everything first and changes nothing on a fault; the
// faults are CheckpointErrors' reasons, thrown as StateError and naming the key.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "pickle.hpp"
#include "torchsystem/torch/model.hpp"

namespace torchsystem::checkpoint_detail {

/// A state that does not fit the module or optimizer it is loaded into.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The tensors of a tree being written: a tensor node's storage key is its index here.
class TensorTable {
 public:
  /// A node for `tensor`, copied to a contiguous CPU tensor of its own.
  PyNode* add(PyTree& tree, const torch::Tensor& tensor);
  const std::vector<torch::Tensor>& tensors() const noexcept { return tensors_; }

 private:
  std::vector<torch::Tensor> tensors_;
};

/// The storages of a tree being read, by key: each a 1-D tensor of its elements.
class StorageTable {
 public:
  void add(const std::string& key, torch::Tensor storage) { storages_[key] = std::move(storage); }
  /// The tensor a node describes, a view of its storage (bounds were checked by pickle_load).
  torch::Tensor tensor(const PyTensor& tensor) const;

 private:
  std::map<std::string, torch::Tensor> storages_;
};

/// The element type of a storage type name ("FloatStorage"); throws StateError for another name.
c10::ScalarType storage_scalar_type(const std::string& storage_type);

/// A module's state dict from its named tensors (Model::state(), module_state()).
PyNode* module_state_dict(PyTree& tree, TensorTable& tensors, const NamedTensors& state);
PyNode* optimizer_state_dict(PyTree& tree, TensorTable& tensors, const torch::optim::Optimizer& optimizer);

/// A load checked in full: apply() cannot fail (but for lack of memory) and changes the object.
using PreparedLoad = std::function<void()>;

/// Checks from the pickle alone, before a storage is read, that `state` holds exactly the tensors of
/// `live_state`, each of its shape and element type. Throws StateError naming the first that differs.
void check_module_state(const NamedTensors& live_state, const PyNode* state, const std::string& where);

/// The most bytes the storages of a checkpoint of these modules' states and this optimizer's can take:
/// the states, what the optimizer keeps per parameter at most, and room for its scalars. A file whose
/// storages take more holds something else, and is refused before they are read.
std::uint64_t state_bytes_bound(const std::vector<NamedTensors>& modules,
                                const torch::optim::Optimizer& optimizer);

/// `where` names the state in messages ("nn", "optimizer").
PreparedLoad prepare_module_load(const NamedTensors& live_state, const PyNode* state,
                                 const StorageTable& storages, const std::string& where);
PreparedLoad prepare_optimizer_load(torch::optim::Optimizer& optimizer, const PyNode* state,
                                    const StorageTable& storages, const std::string& where);

}  // namespace torchsystem::checkpoint_detail
