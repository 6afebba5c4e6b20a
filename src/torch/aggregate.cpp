// Models, aggregates and the two ways to build an aggregate (see model.hpp and aggregate.hpp).
#include "torchsystem/torch/aggregate.hpp"
#include "torchsystem/torch/script_model.hpp"

#include <stdexcept>
#include <utility>

#include "torchsystem/entity.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/torch/module.hpp"
#include "torchsystem/value_traits.hpp"

namespace torchsystem {
namespace {

/// {"name", "hash", "arguments"} of an entity, as a checkpoint records each member of an aggregate.
template <class Handle>
Json identity_of(const Handle& entity) {
  return {{"name", getname(entity)}, {"hash", gethash(entity)}, {"arguments", getarguments(entity)}};
}

void collect(const torch::nn::Module& module, const std::string& prefix, NamedTensors& out) {
  for (const auto& parameter : module.named_parameters(false)) {
    if (parameter.value().defined()) out.emplace_back(prefix + parameter.key(), parameter.value());
  }
  for (const auto& buffer : module.named_buffers(false)) {
    if (buffer.value().defined()) out.emplace_back(prefix + buffer.key(), buffer.value());
  }
  for (const auto& child : module.named_children()) collect(*child.value(), prefix + child.key() + ".", out);
}

/// A LibTorch module: run through its AnyModule when it was given one.
class ModuleModel final : public Model {
 public:
  explicit ModuleModel(torch::nn::AnyModule runner) : module_(runner.ptr()), runner_(std::move(runner)) {}
  explicit ModuleModel(std::shared_ptr<torch::nn::Module> module) : module_(std::move(module)) {}

  Json metadata() const override { return identity_of(module_); }
  torch::Tensor forward(const torch::Tensor& input) override {
    if (runner_.is_empty())
      throw std::logic_error("the model " + getname(module_) +
                             " was given as a torch::nn::Module pointer, without its forward(): build it "
                             "through a registry or from its holder to run it");
    return runner_.forward(input);
  }
  std::vector<torch::Tensor> parameters() const override { return module_->parameters(); }
  NamedTensors state() const override { return module_state(*module_); }
  void train(bool on) override { module_->train(on); }
  std::shared_ptr<torch::nn::Module> module() const override { return module_; }

 private:
  std::shared_ptr<torch::nn::Module> module_;
  torch::nn::AnyModule runner_;
};

/// Runs `build` with `<path>.<key>` in front of an ArgumentError's path: `config.model -> MLP.hidden_size`.
template <class F>
auto built(std::string_view path, const char* key, F&& build) {
  try {
    return build();
  } catch (const ArgumentError& error) {
    const std::string here = std::string(path) + "." + key;
    error.rethrow_at(error.path().empty() ? here : here + " -> " + error.path());
  }
}

}  // namespace

std::string Model::name() const {
  return metadata().at("name").get<std::string>();
}

std::string Model::hash() const {
  return metadata().at("hash").get<std::string>();
}

std::int64_t Model::parameter_count() const {
  std::int64_t count = 0;
  for (const auto& parameter : parameters()) count += parameter.numel();
  return count;
}

NamedTensors module_state(const torch::nn::Module& module) {
  NamedTensors tensors;
  collect(module, "", tensors);
  return tensors;
}

std::shared_ptr<Model> module_model(torch::nn::AnyModule module) {
  if (module.is_empty()) throw std::invalid_argument("module_model: the module is empty");
  return std::make_shared<ModuleModel>(std::move(module));
}

std::shared_ptr<Model> module_model(std::shared_ptr<torch::nn::Module> module) {
  if (!module) throw std::invalid_argument("module_model: the module is null");
  return std::make_shared<ModuleModel>(std::move(module));
}

// ---------------------------------------------------------------------------------------------------------

std::string_view phase_name(Phase phase) noexcept {
  return phase == Phase::train ? "train" : "evaluation";
}

struct Aggregate::State {
  std::shared_ptr<Model> model;
  std::shared_ptr<torch::nn::Module> criterion;
  torch::nn::AnyModule loss;  // empty for a criterion given by pointer
  std::shared_ptr<torch::optim::Optimizer> optimizer;
  std::int64_t epoch = 0;
  Phase phase = Phase::train;
};

Aggregate::Aggregate(std::shared_ptr<Model> model, torch::nn::AnyModule criterion,
                     std::shared_ptr<torch::optim::Optimizer> optimizer, std::int64_t epoch)
    : state_(std::make_shared<State>()) {
  state_->model = std::move(model);
  state_->criterion = criterion.is_empty() ? nullptr : criterion.ptr();
  state_->loss = std::move(criterion);
  state_->optimizer = std::move(optimizer);
  state_->epoch = epoch;
}

Aggregate::Aggregate(std::shared_ptr<torch::nn::Module> model, std::shared_ptr<torch::nn::Module> criterion,
                     std::shared_ptr<torch::optim::Optimizer> optimizer, std::int64_t epoch)
    : state_(std::make_shared<State>()) {
  if (model) state_->model = module_model(std::move(model));
  state_->criterion = std::move(criterion);
  state_->optimizer = std::move(optimizer);
  state_->epoch = epoch;
}

const Aggregate::State& Aggregate::state() const {
  if (!state_) throw std::logic_error("the aggregate is empty");
  return *state_;
}

Model& Aggregate::model() const {
  const auto& model = model_ptr();
  if (!model) throw std::logic_error("the aggregate has no model");
  return *model;
}

const std::shared_ptr<Model>& Aggregate::model_ptr() const {
  return state().model;
}

const std::shared_ptr<torch::nn::Module>& Aggregate::criterion() const {
  return state().criterion;
}

torch::optim::Optimizer& Aggregate::optimizer() const {
  const auto& optimizer = optimizer_ptr();
  if (!optimizer) throw std::logic_error("the aggregate has no optimizer");
  return *optimizer;
}

const std::shared_ptr<torch::optim::Optimizer>& Aggregate::optimizer_ptr() const {
  return state().optimizer;
}

torch::Tensor Aggregate::loss(const torch::Tensor& outputs, const torch::Tensor& targets) const {
  const State& current = state();
  if (current.loss.is_empty())
    throw std::logic_error(
        "the aggregate's criterion was given as a torch::nn::Module pointer, without its "
        "forward(): build it through a registry to run it");
  return state_->loss.forward(outputs, targets);
}

std::int64_t Aggregate::epoch() const {
  return state().epoch;
}

void Aggregate::set_epoch(std::int64_t epoch) const {
  if (epoch < 0) throw std::invalid_argument("an aggregate's epoch is >= 0, not " + std::to_string(epoch));
  state_->epoch = epoch;
}

Phase Aggregate::phase() const {
  return state().phase;
}

void Aggregate::set_phase(Phase phase) const {
  const bool training = phase == Phase::train;
  model().train(training);
  if (const auto& criterion = state().criterion) criterion->train(training);
  state_->phase = phase;
}

std::string Aggregate::name() const {
  return model().name();
}

std::string Aggregate::hash() const {
  return model().hash();
}

Json Aggregate::metadata() const {
  const auto& criterion = state().criterion;
  if (!criterion) throw std::logic_error("the aggregate has no criterion");
  Json metadata = Json::object();
  metadata["model"] = model().metadata();
  metadata["criterion"] = identity_of(criterion);
  const auto& optimizer = optimizer_ptr();
  if (!optimizer) throw std::logic_error("the aggregate has no optimizer");
  metadata["optimizer"] = identity_of(optimizer);
  return metadata;
}

// ---------------------------------------------------------------------------------------------------------

namespace {

/// The aggregate of `model` (built already) with the criterion and optimizer configurations.
Aggregate aggregate_of(std::shared_ptr<Model> model, const Json& criterion, const Json& optimizer,
                       const Registries& registries, std::string_view path) {
  auto loss = built(path, "criterion",
                    [&] { return registries.losses().create_as<torch::nn::AnyModule>(criterion); });
  auto steps = built(path, "optimizer",
                     [&] { return registries.optimizers().create(optimizer, model->parameters()); });
  return Aggregate(std::move(model), std::move(loss), std::move(steps));
}

}  // namespace

Aggregate build_aggregate(const Json& model, const Json& criterion, const Json& optimizer,
                          const Registries& registries, std::string_view path) {
  if (model.is_object() && model.contains("torchscript")) {
    const std::string where = std::string(path) + ".model.torchscript";
    if (model.size() != 1)
      throw ArgumentError(std::string(path) + ".model",
                          "a TorchScript model is {\"torchscript\": path} alone: its archive records its "
                          "name and arguments, got " +
                              describe_json(model));
    if (!model["torchscript"].is_string() || model["torchscript"].get_ref<const std::string&>().empty())
      throw ArgumentError(where, "expected the archive's path, got " + describe_json(model["torchscript"]));
    return aggregate_of(load_script_model(model["torchscript"].get<std::string>(), where), criterion,
                        optimizer, registries, path);
  }
  const std::string model_name = model.is_object() && model.contains("name") && model["name"].is_string()
                                     ? model["name"].get<std::string>()
                                     : std::string();
  auto module = built(path, "model", [&] {
    return registries.models_for(model_name).create_as<torch::nn::AnyModule>(model);
  });
  return aggregate_of(module_model(std::move(module)), criterion, optimizer, registries, path);
}

namespace {

/// The metadata's model identity, checked: its hash must be the one its name and arguments give.
void check_identity(const Json& model) {
  const std::string& name = model.at("name").get_ref<const std::string&>();
  const std::string& hash = model.at("hash").get_ref<const std::string&>();
  const std::string computed = identity_hash(name, model.at("arguments"));
  if (computed != hash)
    throw IdentityError("the checkpoint claims the identity " + name + "-" + hash +
                        ", but its arguments give " + name + "-" + computed);
}

Json stripped(const Json& entity) {
  return Json{{"name", entity.at("name")}, {"arguments", entity.at("arguments")}};
}

void set_saved_epoch(const Aggregate& aggregate, const Json& metadata) {
  if (const auto epoch = metadata.find("epoch"); epoch != metadata.end() && epoch->is_number_integer())
    aggregate.set_epoch(epoch->get<std::int64_t>());
}

}  // namespace

Aggregate rebuild_aggregate(const Json& metadata, const Registries& registries) {
  check_identity(metadata.at("model"));
  Aggregate aggregate = build_aggregate(stripped(metadata.at("model")), stripped(metadata.at("criterion")),
                                        stripped(metadata.at("optimizer")), registries, "checkpoint");
  set_saved_epoch(aggregate, metadata);
  return aggregate;
}

Aggregate rebuild_aggregate(const Json& metadata, const Registries& registries,
                            std::shared_ptr<Model> model) {
  const Json& saved = metadata.at("model");
  check_identity(saved);
  const Json given = model->metadata();
  if (given.at("name") != saved.at("name") || given.at("hash") != saved.at("hash"))
    throw IdentityError("the checkpoint holds " + saved.at("name").get<std::string>() + "-" +
                        saved.at("hash").get<std::string>() + ", the model given is " +
                        given.at("name").get<std::string>() + "-" + given.at("hash").get<std::string>());
  Aggregate aggregate = aggregate_of(std::move(model), stripped(metadata.at("criterion")),
                                     stripped(metadata.at("optimizer")), registries, "checkpoint");
  set_saved_epoch(aggregate, metadata);
  return aggregate;
}

}  // namespace torchsystem
