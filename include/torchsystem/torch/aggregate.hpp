// The Aggregate: the training unit of Python's torchsystem (`torchsystem.domain.Aggregate`). A model, its
// criterion and its optimizer, the epoch it has reached and the phase it is in, identified by its model
// (`getname(nn)`, `gethash(nn)`, as the reference's examples set `id`).
//
//   const Registries registries(plugin_models);
//   Aggregate aggregate = build_aggregate(config["model"], config["criterion"], config["optimizer"],
//                                         registries);
//   aggregate.set_phase(Phase::train);
//   torch::Tensor loss = aggregate.loss(aggregate.model().forward(inputs), targets);
//   store.save(aggregate);              // under aggregate.name() + "-" + aggregate.hash()
//
// A configuration builds one (build_aggregate), and so does a checkpoint's metadata (rebuild_aggregate),
// through the same registries: the training job, the server, `create` and `checkpoints` all pass
// Aggregates around. Copies of an Aggregate share one aggregate, as copies of a module holder share one
// module: what a load changes (the tensors, the epoch) every copy sees.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "torchsystem/json.hpp"
#include "torchsystem/torch/model.hpp"
#include "torchsystem/torch/registries.hpp"

namespace torchsystem {

/// What an aggregate is doing: PyTorch's `train()` and `eval()` modes of its model and criterion.
enum class Phase { train, evaluation };

/// "train" or "evaluation", as Python's Aggregate.phase says.
std::string_view phase_name(Phase phase) noexcept;

class Aggregate {
 public:
  /// An empty aggregate: every accessor but is_empty() throws std::logic_error.
  Aggregate() = default;
  /// A runnable aggregate: the model and criterion can run, the optimizer steps.
  Aggregate(std::shared_ptr<Model> model, torch::nn::AnyModule criterion,
            std::shared_ptr<torch::optim::Optimizer> optimizer, std::int64_t epoch = 0);
  /// An aggregate of modules held by pointer, which can be saved and loaded but not run (loss() and
  /// the model's forward() throw std::logic_error). Each object must be an entity (created through the
  /// library).
  Aggregate(std::shared_ptr<torch::nn::Module> model, std::shared_ptr<torch::nn::Module> criterion,
            std::shared_ptr<torch::optim::Optimizer> optimizer, std::int64_t epoch = 0);

  bool is_empty() const noexcept { return state_ == nullptr; }

  Model& model() const;
  const std::shared_ptr<Model>& model_ptr() const;
  /// The criterion's module (its state is saved with the model's).
  const std::shared_ptr<torch::nn::Module>& criterion() const;
  torch::optim::Optimizer& optimizer() const;
  const std::shared_ptr<torch::optim::Optimizer>& optimizer_ptr() const;

  /// The criterion on a batch's outputs and targets.
  torch::Tensor loss(const torch::Tensor& outputs, const torch::Tensor& targets) const;

  /// The number of epochs completed: what a checkpoint saves and a load restores.
  std::int64_t epoch() const;
  void set_epoch(std::int64_t epoch) const;

  Phase phase() const;
  /// Puts the model and criterion in training or evaluation mode.
  void set_phase(Phase phase) const;

  /// The model's name and hash: the aggregate's identity.
  std::string name() const;
  std::string hash() const;
  /// The model's hash, as the reference's examples define Aggregate.id.
  std::string id() const { return hash(); }

  /// {"model", "criterion", "optimizer"}: each {"name", "hash", "arguments"}, as a checkpoint records them.
  Json metadata() const;

 private:
  struct State;
  const State& state() const;
  std::shared_ptr<State> state_;
};

/// Builds an aggregate from three entity configurations ({"name": ..., "arguments": {...}}): the model
/// through `registries.models_for(name)` (or, for {"torchscript": path}, from that archive:
/// script_model.hpp), the criterion from the losses, the optimizer over the model's parameters from the
/// optimizers. Each fault is an ArgumentError whose path starts with
/// `<path>.model`, `<path>.criterion` or `<path>.optimizer` (`config.model -> MLP.hidden_size`).
Aggregate build_aggregate(const Json& model, const Json& criterion, const Json& optimizer,
                          const Registries& registries, std::string_view path = "config");

/// Builds the aggregate a checkpoint's metadata describe ({"model", "criterion", "optimizer"}, each
/// {"name", "hash", "arguments"}, and "epoch"), at that epoch, its tensors not loaded. The model's hash
/// must be the one its name and arguments give: metadata that claim another identity are an
/// IdentityError naming both hashes, before anything is built.
Aggregate rebuild_aggregate(const Json& metadata, const Registries& registries);

/// The same around a model given (a TorchScript model, script_model.hpp), which must be the identity the
/// metadata record: IdentityError naming both otherwise.
Aggregate rebuild_aggregate(const Json& metadata, const Registries& registries, std::shared_ptr<Model> model);

}  // namespace torchsystem
