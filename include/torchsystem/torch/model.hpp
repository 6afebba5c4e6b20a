// The model of an aggregate, whatever kind of module runs it.
//
// The training job, the checkpoint store and the server see a model through this interface only: its
// identity (the metadata its registration recorded), its forward, its parameters and its state in
// PyTorch's `state_dict()` order. A LibTorch module holder is one kind (module_model); a kind that is not
// a `torch::nn::Module` (a TorchScript module, say) implements the same interface and trains, saves and
// serves through the same code.
//
//   auto model = module_model(ts::create<MLP>(784, 256, 10));
//   model->name();       // "MLP"
//   model->forward(x);   // MLP::forward
//   model->state();      // [("input_layer.weight", ...), ("input_layer.bias", ...), ...]
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "torchsystem/json.hpp"

namespace torchsystem {

/// Named tensors in PyTorch's `state_dict()` order: the tensors themselves, not copies.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

class Model {
 public:
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  virtual ~Model() = default;

  /// {"name": ..., "hash": ..., "arguments": {...}}: the identity its registration recorded.
  virtual Json metadata() const = 0;
  std::string name() const;
  std::string hash() const;

  /// Runs the model on one batch. Throws std::logic_error for a model given without a forward (a module
  /// given by a plain `torch::nn::Module` pointer: its state can be saved and loaded, not run).
  virtual torch::Tensor forward(const torch::Tensor& input) = 0;
  virtual std::vector<torch::Tensor> parameters() const = 0;
  /// Its parameters and buffers by their dotted names, in the order PyTorch's `state_dict()` walks them.
  virtual NamedTensors state() const = 0;
  /// Training or evaluation mode (dropout, batch norm).
  virtual void train(bool on) = 0;
  /// The number of elements in its parameters.
  std::int64_t parameter_count() const;

  /// The LibTorch module behind it; nullptr for a kind that is not one.
  virtual std::shared_ptr<torch::nn::Module> module() const { return nullptr; }
};

/// The state of a LibTorch module in PyTorch's `state_dict()` order: its own parameters, its own buffers,
/// then each child's, recursively; undefined tensors left out.
NamedTensors module_state(const torch::nn::Module& module);

/// A model run through `module` (which must be an entity: created through the library).
std::shared_ptr<Model> module_model(torch::nn::AnyModule module);
/// A model of which only the state is used (saving, loading): forward() throws.
std::shared_ptr<Model> module_model(std::shared_ptr<torch::nn::Module> module);

}  // namespace torchsystem
