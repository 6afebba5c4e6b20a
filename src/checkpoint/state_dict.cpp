// PyTorch's state-dict forms of LibTorch's modules and optimizers (state_dict.hpp). The key names, their
// order and their types are PyTorch 1.13's, checked against it by tests/python.
#include "state_dict.hpp"
#include "state_values.hpp"

#include <c10/util/string_utils.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/lbfgs.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <array>
#include <cmath>
#include <deque>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "torchsystem/torch/optimizers.hpp"

namespace torchsystem::checkpoint_detail {
namespace {

using Kind = PyNode::Kind;

// ---------------------------------------------------------------------------------------------------------
// Modules.

// ---------------------------------------------------------------------------------------------------------
// Optimizers: one description per type, of its param_groups keys (PyTorch 1.13's order) and its state.

/// Group keys of PyTorch's implementation switches, which LibTorch has no equivalent of: a file may hold
/// them only with PyTorch's defaults (None or False).
bool is_switch(const std::string& key) {
  return key == "foreach" || key == "fused" || key == "capturable" || key == "differentiable" ||
         key == "decoupled_weight_decay";
}

bool is_switch_default(const PyNode* value) {
  return value->kind == Kind::none || (value->kind == Kind::boolean && !value->boolean);
}

/// Reads one hyperparameter of a group into cloned options.
using GroupSetter =
    std::function<void(torch::optim::OptimizerOptions&, const PyNode*, const std::string& path)>;

template <class Options>
Options& options_as(torch::optim::OptimizerOptions& options) {
  return dynamic_cast<Options&>(options);
}

template <class Options>
std::unordered_map<std::string, GroupSetter> double_setters(
    std::initializer_list<std::pair<const char*, Options& (Options::*)(const double&)>> fields) {
  std::unordered_map<std::string, GroupSetter> setters;
  for (const auto& [name, setter] : fields) {
    setters[name] = [setter = setter](torch::optim::OptimizerOptions& options, const PyNode* value,
                                      const std::string& path) {
      (options_as<Options>(options).*setter)(number(value, path));
    };
  }
  return setters;
}

template <class Options>
GroupSetter betas_setter() {
  return [](torch::optim::OptimizerOptions& options, const PyNode* value, const std::string& path) {
    if ((value->kind != Kind::tuple && value->kind != Kind::list) || value->items.size() != 2)
      wrong(path, "a pair of numbers", value);
    options_as<Options>(options).betas(
        std::make_tuple(number(value->items[0], path + "[0]"), number(value->items[1], path + "[1]")));
  };
}

template <class Options>
GroupSetter bool_setter(Options& (Options::*setter)(const bool&)) {
  return [setter](torch::optim::OptimizerOptions& options, const PyNode* value, const std::string& path) {
    (options_as<Options>(options).*setter)(boolean(value, path));
  };
}

struct OptimizerKind {
  const char* name;
  /// The group's hyperparameters as PyTorch 1.13 writes them, `params` excluded.
  std::function<void(PyTree&, PyNode* group, const torch::optim::OptimizerOptions&, bool maximize)>
      write_group;
  std::unordered_map<std::string, GroupSetter> read_group;
  /// One parameter's state as PyTorch's dict; nullptr for none.
  std::function<PyNode*(PyTree&, TensorTable&, const torch::optim::OptimizerParamState&)> write_state;
  /// A parameter's state from PyTorch's dict; nullptr where PyTorch's holds nothing LibTorch keeps.
  std::function<std::unique_ptr<torch::optim::OptimizerParamState>(const PyNode*, const StorageTable&,
                                                                   const std::string&, const torch::Tensor&,
                                                                   const torch::optim::OptimizerOptions&)>
      read_state;
};

PyNode* tensor_or_none(PyTree& tree, TensorTable& tensors, const torch::Tensor& tensor) {
  return tensor.defined() ? tensors.add(tree, tensor) : tree.none();
}

/// PyTorch 1.13 keeps Adam's, AdamW's and Adagrad's `step` as a float32 tensor.
PyNode* step_tensor(PyTree& tree, TensorTable& tensors, std::int64_t step) {
  return tensors.add(tree, torch::scalar_tensor(static_cast<double>(step), c10::kFloat));
}

std::int64_t step_of(const PyNode* node, const StorageTable& storages, const std::string& path) {
  const double value = scalar(node, storages, path);
  if (!(value >= 0) || value > 9.0e15 || value != std::floor(value))
    wrong(path, "a whole number of steps >= 0", node);
  return static_cast<std::int64_t>(value);
}

/// The state dict's keys of one parameter, each read once; unknown keys are faults.
class StateFields {
 public:
  StateFields(const PyNode* state, std::string path) : path_(std::move(path)) {
    for (auto& [key, value] : str_entries(state, path_)) fields_.emplace(std::move(key), value);
  }
  const PyNode* get(const std::string& key) {
    const auto found = fields_.find(key);
    if (found == fields_.end()) return nullptr;
    const PyNode* value = found->second;
    fields_.erase(found);
    return value;
  }
  const PyNode* require(const std::string& key) {
    const PyNode* value = get(key);
    if (value == nullptr) throw StateError(path_ + " has no \"" + key + "\"");
    return value;
  }
  std::string path(const std::string& key) const { return path_ + "." + key; }
  void finish() const {
    if (!fields_.empty())
      throw StateError(path_ + " holds the unknown key \"" + fields_.begin()->first + "\"");
  }

 private:
  std::string path_;
  std::unordered_map<std::string, const PyNode*> fields_;
};

/// Adam and AdamW share their state and their options' fields.
template <class Options, class State>
OptimizerKind adam_kind(const char* name, bool adamw) {
  OptimizerKind kind;
  kind.name = name;
  kind.write_group = [adamw](PyTree& tree, PyNode* group, const torch::optim::OptimizerOptions& base,
                             bool maximize) {
    const auto& options = dynamic_cast<const Options&>(base);
    tree.set(group, "lr", tree.floating(options.lr()));
    tree.set(group, "betas",
             tree.tuple(std::vector<PyNode*>{tree.floating(std::get<0>(options.betas())),
                                             tree.floating(std::get<1>(options.betas()))}));
    tree.set(group, "eps", tree.floating(options.eps()));
    tree.set(group, "weight_decay", tree.floating(options.weight_decay()));
    tree.set(group, "amsgrad", tree.boolean(options.amsgrad()));
    if (adamw) {
      tree.set(group, "foreach", tree.none());
      tree.set(group, "maximize", tree.boolean(maximize));
      tree.set(group, "capturable", tree.boolean(false));
      return;
    }
    tree.set(group, "maximize", tree.boolean(maximize));
    tree.set(group, "foreach", tree.none());
    tree.set(group, "capturable", tree.boolean(false));
    tree.set(group, "differentiable", tree.boolean(false));
    tree.set(group, "fused", tree.boolean(false));
  };
  kind.read_group = double_setters<Options>(
      {{"lr", &Options::lr}, {"eps", &Options::eps}, {"weight_decay", &Options::weight_decay}});
  kind.read_group["betas"] = betas_setter<Options>();
  kind.read_group["amsgrad"] = bool_setter<Options>(&Options::amsgrad);
  kind.write_state = [](PyTree& tree, TensorTable& tensors, const torch::optim::OptimizerParamState& base) {
    const auto& state = dynamic_cast<const State&>(base);
    PyNode* dict = tree.dict();
    tree.set(dict, "step", step_tensor(tree, tensors, state.step()));
    tree.set(dict, "exp_avg", tensors.add(tree, state.exp_avg()));
    tree.set(dict, "exp_avg_sq", tensors.add(tree, state.exp_avg_sq()));
    if (state.max_exp_avg_sq().defined())
      tree.set(dict, "max_exp_avg_sq", tensors.add(tree, state.max_exp_avg_sq()));
    return dict;
  };
  kind.read_state = [](const PyNode* node, const StorageTable& storages, const std::string& path,
                       const torch::Tensor& parameter, const torch::optim::OptimizerOptions& base) {
    const auto& options = dynamic_cast<const Options&>(base);
    StateFields fields(node, path);
    auto state = std::make_unique<State>();
    state->step(step_of(fields.require("step"), storages, fields.path("step")));
    state->exp_avg(state_tensor(fields.require("exp_avg"), storages, fields.path("exp_avg"), parameter));
    state->exp_avg_sq(
        state_tensor(fields.require("exp_avg_sq"), storages, fields.path("exp_avg_sq"), parameter));
    const PyNode* max = fields.get("max_exp_avg_sq");
    if (max != nullptr) {
      state->max_exp_avg_sq(state_tensor(max, storages, fields.path("max_exp_avg_sq"), parameter));
    } else if (options.amsgrad()) {
      throw StateError(path + " has no \"max_exp_avg_sq\", which amsgrad needs");
    }
    fields.finish();
    return std::unique_ptr<torch::optim::OptimizerParamState>(std::move(state));
  };
  return kind;
}

OptimizerKind sgd_kind() {
  using Options = torch::optim::SGDOptions;
  OptimizerKind kind;
  kind.name = "SGD";
  kind.write_group = [](PyTree& tree, PyNode* group, const torch::optim::OptimizerOptions& base,
                        bool maximize) {
    const auto& options = dynamic_cast<const Options&>(base);
    tree.set(group, "lr", tree.floating(options.lr()));
    tree.set(group, "momentum", tree.floating(options.momentum()));
    tree.set(group, "dampening", tree.floating(options.dampening()));
    tree.set(group, "weight_decay", tree.floating(options.weight_decay()));
    tree.set(group, "nesterov", tree.boolean(options.nesterov()));
    tree.set(group, "maximize", tree.boolean(maximize));
    tree.set(group, "foreach", tree.none());
    tree.set(group, "differentiable", tree.boolean(false));
  };
  kind.read_group = double_setters<Options>({{"lr", &Options::lr},
                                             {"momentum", &Options::momentum},
                                             {"dampening", &Options::dampening},
                                             {"weight_decay", &Options::weight_decay}});
  kind.read_group["nesterov"] = bool_setter<Options>(&Options::nesterov);
  kind.write_state = [](PyTree& tree, TensorTable& tensors, const torch::optim::OptimizerParamState& base) {
    const auto& state = dynamic_cast<const torch::optim::SGDParamState&>(base);
    PyNode* dict = tree.dict();
    tree.set(dict, "momentum_buffer", tensor_or_none(tree, tensors, state.momentum_buffer()));
    return dict;
  };
  kind.read_state =
      [](const PyNode* node, const StorageTable& storages, const std::string& path,
         const torch::Tensor& parameter,
         const torch::optim::OptimizerOptions&) -> std::unique_ptr<torch::optim::OptimizerParamState> {
    StateFields fields(node, path);
    const PyNode* buffer = fields.get("momentum_buffer");
    fields.finish();
    // None: no momentum yet, as a parameter LibTorch has not stepped with momentum.
    if (buffer == nullptr || buffer->kind == Kind::none) return nullptr;
    auto state = std::make_unique<torch::optim::SGDParamState>();
    state->momentum_buffer(state_tensor(buffer, storages, fields.path("momentum_buffer"), parameter));
    return state;
  };
  return kind;
}

OptimizerKind adagrad_kind() {
  using Options = torch::optim::AdagradOptions;
  OptimizerKind kind;
  kind.name = "Adagrad";
  kind.write_group = [](PyTree& tree, PyNode* group, const torch::optim::OptimizerOptions& base,
                        bool maximize) {
    const auto& options = dynamic_cast<const Options&>(base);
    tree.set(group, "lr", tree.floating(options.lr()));
    tree.set(group, "lr_decay", tree.floating(options.lr_decay()));
    tree.set(group, "eps", tree.floating(options.eps()));
    tree.set(group, "weight_decay", tree.floating(options.weight_decay()));
    tree.set(group, "initial_accumulator_value", tree.floating(options.initial_accumulator_value()));
    tree.set(group, "foreach", tree.none());
    tree.set(group, "maximize", tree.boolean(maximize));
  };
  kind.read_group =
      double_setters<Options>({{"lr", &Options::lr},
                               {"lr_decay", &Options::lr_decay},
                               {"eps", &Options::eps},
                               {"weight_decay", &Options::weight_decay},
                               {"initial_accumulator_value", &Options::initial_accumulator_value}});
  kind.write_state = [](PyTree& tree, TensorTable& tensors, const torch::optim::OptimizerParamState& base) {
    const auto& state = dynamic_cast<const torch::optim::AdagradParamState&>(base);
    PyNode* dict = tree.dict();
    tree.set(dict, "step", step_tensor(tree, tensors, state.step()));
    tree.set(dict, "sum", tensors.add(tree, state.sum()));
    return dict;
  };
  kind.read_state = [](const PyNode* node, const StorageTable& storages, const std::string& path,
                       const torch::Tensor& parameter, const torch::optim::OptimizerOptions&) {
    StateFields fields(node, path);
    auto state = std::make_unique<torch::optim::AdagradParamState>();
    state->step(step_of(fields.require("step"), storages, fields.path("step")));
    state->sum(state_tensor(fields.require("sum"), storages, fields.path("sum"), parameter));
    fields.finish();
    return std::unique_ptr<torch::optim::OptimizerParamState>(std::move(state));
  };
  return kind;
}

OptimizerKind rmsprop_kind() {
  using Options = torch::optim::RMSpropOptions;
  OptimizerKind kind;
  kind.name = "RMSprop";
  kind.write_group = [](PyTree& tree, PyNode* group, const torch::optim::OptimizerOptions& base,
                        bool maximize) {
    const auto& options = dynamic_cast<const Options&>(base);
    tree.set(group, "lr", tree.floating(options.lr()));
    tree.set(group, "momentum", tree.floating(options.momentum()));
    tree.set(group, "alpha", tree.floating(options.alpha()));
    tree.set(group, "eps", tree.floating(options.eps()));
    tree.set(group, "centered", tree.boolean(options.centered()));
    tree.set(group, "weight_decay", tree.floating(options.weight_decay()));
    tree.set(group, "foreach", tree.none());
    tree.set(group, "maximize", tree.boolean(maximize));
    tree.set(group, "differentiable", tree.boolean(false));
  };
  kind.read_group = double_setters<Options>({{"lr", &Options::lr},
                                             {"momentum", &Options::momentum},
                                             {"alpha", &Options::alpha},
                                             {"eps", &Options::eps},
                                             {"weight_decay", &Options::weight_decay}});
  kind.read_group["centered"] = bool_setter<Options>(&Options::centered);
  kind.write_state = [](PyTree& tree, TensorTable& tensors, const torch::optim::OptimizerParamState& base) {
    const auto& state = dynamic_cast<const torch::optim::RMSpropParamState&>(base);
    PyNode* dict = tree.dict();
    tree.set(dict, "step", tree.integer(state.step()));  // an int in PyTorch 1.13's RMSprop
    tree.set(dict, "square_avg", tensors.add(tree, state.square_avg()));
    if (state.momentum_buffer().defined())
      tree.set(dict, "momentum_buffer", tensors.add(tree, state.momentum_buffer()));
    if (state.grad_avg().defined()) tree.set(dict, "grad_avg", tensors.add(tree, state.grad_avg()));
    return dict;
  };
  kind.read_state = [](const PyNode* node, const StorageTable& storages, const std::string& path,
                       const torch::Tensor& parameter, const torch::optim::OptimizerOptions& base) {
    const auto& options = dynamic_cast<const Options&>(base);
    StateFields fields(node, path);
    auto state = std::make_unique<torch::optim::RMSpropParamState>();
    state->step(step_of(fields.require("step"), storages, fields.path("step")));
    state->square_avg(
        state_tensor(fields.require("square_avg"), storages, fields.path("square_avg"), parameter));
    // PyTorch creates these with the state when momentum or centering is on; LibTorch reads them then.
    if (const PyNode* buffer =
            options.momentum() > 0 ? fields.require("momentum_buffer") : fields.get("momentum_buffer"))
      state->momentum_buffer(state_tensor(buffer, storages, fields.path("momentum_buffer"), parameter));
    if (const PyNode* average = options.centered() ? fields.require("grad_avg") : fields.get("grad_avg"))
      state->grad_avg(state_tensor(average, storages, fields.path("grad_avg"), parameter));
    fields.finish();
    return std::unique_ptr<torch::optim::OptimizerParamState>(std::move(state));
  };
  return kind;
}

OptimizerKind lbfgs_kind() {
  using Options = torch::optim::LBFGSOptions;
  OptimizerKind kind;
  kind.name = "LBFGS";
  kind.write_group = [](PyTree& tree, PyNode* group, const torch::optim::OptimizerOptions& base, bool) {
    const auto& options = dynamic_cast<const Options&>(base);
    tree.set(group, "lr", tree.floating(options.lr()));
    tree.set(group, "max_iter", tree.integer(options.max_iter()));
    // PyTorch stores the default it derives, max_iter * 5 // 4, as LibTorch derives it at each step.
    tree.set(group, "max_eval", tree.integer(options.max_eval().value_or(options.max_iter() * 5 / 4)));
    tree.set(group, "tolerance_grad", tree.floating(options.tolerance_grad()));
    tree.set(group, "tolerance_change", tree.floating(options.tolerance_change()));
    tree.set(group, "history_size", tree.integer(options.history_size()));
    const auto& search = options.line_search_fn();
    tree.set(group, "line_search_fn", search ? tree.string(*search) : tree.none());
  };
  kind.read_group = double_setters<Options>({{"lr", &Options::lr},
                                             {"tolerance_grad", &Options::tolerance_grad},
                                             {"tolerance_change", &Options::tolerance_change}});
  kind.read_group["max_iter"] = [](torch::optim::OptimizerOptions& options, const PyNode* value,
                                   const std::string& path) {
    const std::int64_t count = integer(value, path);
    if (count < 1) wrong(path, "an int >= 1", value);
    options_as<Options>(options).max_iter(count);
  };
  kind.read_group["max_eval"] = [](torch::optim::OptimizerOptions& options, const PyNode* value,
                                   const std::string& path) {
    if (value->kind == Kind::none) return options_as<Options>(options).max_eval(c10::nullopt), void();
    const std::int64_t count = integer(value, path);
    if (count < 1) wrong(path, "an int >= 1", value);
    options_as<Options>(options).max_eval(count);
  };
  kind.read_group["history_size"] = [](torch::optim::OptimizerOptions& options, const PyNode* value,
                                       const std::string& path) {
    const std::int64_t size = integer(value, path);
    if (size < 1 || size > (1 << 20)) wrong(path, "an int from 1 to 2**20", value);
    options_as<Options>(options).history_size(size);
  };
  kind.read_group["line_search_fn"] = [](torch::optim::OptimizerOptions& options, const PyNode* value,
                                         const std::string& path) {
    if (value->kind == Kind::none) return options_as<Options>(options).line_search_fn(c10::nullopt), void();
    if (value->kind != Kind::string || value->string != "strong_wolfe")
      wrong(path, "None or \"strong_wolfe\"", value);
    options_as<Options>(options).line_search_fn(std::string("strong_wolfe"));
  };
  kind.write_state = [](PyTree& tree, TensorTable& tensors, const torch::optim::OptimizerParamState& base) {
    const auto& state = dynamic_cast<const torch::optim::LBFGSParamState&>(base);
    const auto list = [&](const std::deque<torch::Tensor>& values) {
      std::vector<PyNode*> items;
      for (const auto& value : values) items.push_back(tensor_or_none(tree, tensors, value));
      return tree.list(std::move(items));
    };
    PyNode* dict = tree.dict();
    tree.set(dict, "func_evals", tree.integer(state.func_evals()));
    tree.set(dict, "n_iter", tree.integer(state.n_iter()));
    if (!state.d().defined()) return dict;  // no iteration made yet
    tree.set(dict, "d", tensors.add(tree, state.d()));
    tree.set(dict, "t", tree.floating(state.t()));
    tree.set(dict, "old_dirs", list(state.old_dirs()));
    tree.set(dict, "old_stps", list(state.old_stps()));
    tree.set(dict, "ro", list(state.ro()));
    tree.set(dict, "H_diag", tensor_or_none(tree, tensors, state.H_diag()));
    tree.set(dict, "prev_flat_grad", tensor_or_none(tree, tensors, state.prev_flat_grad()));
    tree.set(dict, "prev_loss", tree.floating(state.prev_loss()));
    if (state.al()) {
      std::deque<torch::Tensor> al(state.al()->begin(), state.al()->end());
      tree.set(dict, "al", list(al));
    }
    return dict;
  };
  kind.read_state = [](const PyNode* node, const StorageTable& storages, const std::string& path,
                       const torch::Tensor& parameter, const torch::optim::OptimizerOptions&) {
    StateFields fields(node, path);
    auto state = std::make_unique<torch::optim::LBFGSParamState>();
    state->func_evals(integer(fields.require("func_evals"), fields.path("func_evals")));
    state->n_iter(integer(fields.require("n_iter"), fields.path("n_iter")));
    const auto flat = [&](const char* key) -> torch::Tensor {
      const PyNode* value = fields.get(key);
      if (value == nullptr || value->kind == Kind::none) return {};
      return state_tensor(value, storages, fields.path(key), parameter, false);
    };
    state->d(flat("d"));
    state->H_diag(flat("H_diag"));
    state->prev_flat_grad(flat("prev_flat_grad"));
    if (const PyNode* t = fields.get("t")) state->t(scalar(t, storages, fields.path("t")));
    if (const PyNode* loss = fields.get("prev_loss"))
      state->prev_loss(scalar(loss, storages, fields.path("prev_loss")));
    const auto history = [&](const char* key) {
      const PyNode* values = fields.get(key);
      return values ? tensor_list(values, storages, fields.path(key), parameter)
                    : std::deque<torch::Tensor>();
    };
    state->old_dirs(history("old_dirs"));
    state->old_stps(history("old_stps"));
    state->ro(history("ro"));
    if (const PyNode* al = fields.get("al")) {
      require_kind(al, Kind::list, fields.path("al"), "a list of tensors and None");
      std::vector<torch::Tensor> values;
      for (std::size_t index = 0; index < al->items.size(); ++index) {
        const PyNode* item = al->items[index];
        values.push_back(item->kind == Kind::none
                             ? torch::Tensor()
                             : state_tensor(item, storages,
                                            fields.path("al") + "[" + std::to_string(index) + "]", parameter,
                                            false));
      }
      state->al(std::move(values));
    }
    fields.finish();
    return std::unique_ptr<torch::optim::OptimizerParamState>(std::move(state));
  };
  return kind;
}

const OptimizerKind& kind_of(const torch::optim::Optimizer& optimizer) {
  static const OptimizerKind sgd = sgd_kind(),
                             adam = adam_kind<torch::optim::AdamOptions, torch::optim::AdamParamState>("Adam",
                                                                                                       false),
                             adamw = adam_kind<torch::optim::AdamWOptions, torch::optim::AdamWParamState>(
                                 "AdamW", true),
                             adagrad = adagrad_kind(), rmsprop = rmsprop_kind(), lbfgs = lbfgs_kind();
  // AdamW first: the catalog's types may derive from LibTorch's, and each is tested exactly.
  if (dynamic_cast<const torch::optim::AdamW*>(&optimizer)) return adamw;
  if (dynamic_cast<const torch::optim::Adam*>(&optimizer)) return adam;
  if (dynamic_cast<const torch::optim::SGD*>(&optimizer)) return sgd;
  if (dynamic_cast<const torch::optim::Adagrad*>(&optimizer)) return adagrad;
  if (dynamic_cast<const torch::optim::RMSprop*>(&optimizer)) return rmsprop;
  if (dynamic_cast<const torch::optim::LBFGS*>(&optimizer)) return lbfgs;
  throw StateError(
      "the optimizer is none of SGD, Adam, AdamW, Adagrad, RMSprop and LBFGS, whose state PyTorch's form is "
      "known for");
}

}  // namespace

// -------------------------------------------------------------------------------------------------------------

PyNode* TensorTable::add(PyTree& tree, const torch::Tensor& tensor) {
  // The bytes are written before the save returns, so a contiguous CPU tensor is shared, not copied.
  torch::Tensor stored = tensor.detach().to(c10::kCPU).contiguous();
  PyTensor node;
  node.storage_key = std::to_string(tensors_.size());
  node.storage_type = storage_type_of(stored.scalar_type());
  node.storage_numel = static_cast<std::uint64_t>(stored.numel());
  node.sizes.assign(stored.sizes().begin(), stored.sizes().end());
  node.strides.assign(stored.strides().begin(), stored.strides().end());
  tensors_.push_back(std::move(stored));
  return tree.tensor(std::move(node));
}

torch::Tensor StorageTable::tensor(const PyTensor& tensor) const {
  const auto found = storages_.find(tensor.storage_key);
  if (found == storages_.end()) throw StateError("storage '" + tensor.storage_key + "' was not read");
  return found->second.as_strided(tensor.sizes, tensor.strides, tensor.offset);
}

c10::ScalarType storage_scalar_type(const std::string& storage_type) {
  for (const auto& [name, scalar] : storage_types()) {
    if (storage_type == name) return scalar;
  }
  throw StateError("the storage type '" + storage_type + "' is not one LibTorch reads");
}

PyNode* module_state_dict(PyTree& tree, TensorTable& tensors, const NamedTensors& state) {
  PyNode* dict = tree.dict(true);
  for (const auto& [name, tensor] : state) tree.set(dict, name, tensors.add(tree, tensor));
  return dict;
}

void check_module_state(const NamedTensors& live_state, const PyNode* state, const std::string& where) {
  std::unordered_map<std::string, const PyNode*> stored;
  for (const auto& [key, value] : str_entries(state, where)) stored.emplace(key, value);
  for (const auto& [name, live] : live_state) {
    const auto found = stored.find(name);
    if (found == stored.end()) throw StateError(where + " has no \"" + name + "\", which the model has");
    const PyNode* node = found->second;
    if (node->kind != Kind::tensor) wrong(where + "." + name, "a tensor", node);
    const c10::ScalarType type = storage_scalar_type(node->tensor.storage_type);
    if (c10::IntArrayRef(node->tensor.sizes) != live.sizes() || type != live.scalar_type()) {
      throw StateError(where + "." + name + " is " + shape_text(type, node->tensor.sizes) + " in the file, " +
                       shape_text(live.scalar_type(), live.sizes()) + " in the model");
    }
    stored.erase(found);
  }
  if (!stored.empty())
    throw StateError(where + " holds \"" + stored.begin()->first + "\", which the model has not");
}

PreparedLoad prepare_module_load(const NamedTensors& live_state, const PyNode* state,
                                 const StorageTable& storages, const std::string& where) {
  check_module_state(live_state, state, where);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // live tensor, value
  for (const auto& [name, live] : live_state)
    copies.emplace_back(live, storages.tensor(state->find(name)->tensor));
  return [copies = std::move(copies)]() mutable {
    const torch::NoGradGuard no_grad;
    for (auto& [live, value] : copies) live.copy_(value);
  };
}

std::uint64_t state_bytes_bound(const std::vector<NamedTensors>& modules,
                                const torch::optim::Optimizer& optimizer) {
  std::uint64_t bound = std::uint64_t{1} << 20;  // the scalars: steps, LBFGS's counters and `ro`
  for (const NamedTensors& state : modules)
    for (const auto& [name, tensor] : state) bound += tensor.nbytes();
  std::uint64_t parameters = 0;
  std::uint64_t count = 0;
  std::int64_t history = 0;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& parameter : group.params()) {
      parameters += parameter.nbytes();
      ++count;
    }
    if (const auto* lbfgs = dynamic_cast<const torch::optim::LBFGSOptions*>(&group.options()))
      history = std::max(history, lbfgs->history_size());
  }
  // Per parameter, PyTorch's optimizers keep at most three tensors of its size (Adam with amsgrad,
  // RMSprop centered with momentum) and a one-element step; LBFGS keeps flat vectors of all parameters:
  // `history_size` each of directions and steps, and four more (d, t's direction, prev_flat_grad, H_diag).
  const std::uint64_t copies = history > 0 ? 2 * static_cast<std::uint64_t>(history) + 4 : 3;
  return bound + copies * parameters + 64 * count;
}

PyNode* optimizer_state_dict(PyTree& tree, TensorTable& tensors, const torch::optim::Optimizer& optimizer) {
  const OptimizerKind& kind = kind_of(optimizer);
  const bool maximize = maximizes(optimizer);
  PyNode* state = tree.dict();
  PyNode* groups = tree.list();
  std::int64_t index = 0;
  for (const auto& group : optimizer.param_groups()) {
    PyNode* dict = tree.dict();
    kind.write_group(tree, dict, group.options(), maximize);
    PyNode* params = tree.list();
    for (const auto& parameter : group.params()) {
      const auto found = optimizer.state().find(state_key(parameter));
      if (found != optimizer.state().end()) {
        if (PyNode* entry = kind.write_state(tree, tensors, *found->second))
          tree.set(state, tree.integer(index), entry);
      }
      params->items.push_back(tree.integer(index++));
    }
    tree.set(dict, "params", params);
    groups->items.push_back(dict);
  }
  PyNode* dict = tree.dict();
  tree.set(dict, "state", state);
  tree.set(dict, "param_groups", groups);
  return dict;
}

PreparedLoad prepare_optimizer_load(torch::optim::Optimizer& optimizer, const PyNode* state_dict,
                                    const StorageTable& storages, const std::string& where) {
  const OptimizerKind& kind = kind_of(optimizer);
  const PyNode* groups = state_dict->kind == Kind::dict ? state_dict->find("param_groups") : nullptr;
  const PyNode* states = state_dict->kind == Kind::dict ? state_dict->find("state") : nullptr;
  if (groups == nullptr || states == nullptr)
    throw StateError(where +
                     ": expected an optimizer's state dict {\"state\": ..., \"param_groups\": [...]}");
  require_kind(groups, Kind::list, where + ".param_groups", "a list");
  auto& live_groups = optimizer.param_groups();
  if (groups->items.size() != live_groups.size()) {
    throw StateError(where + ".param_groups has " + std::to_string(groups->items.size()) + " groups, the " +
                     kind.name + " optimizer " + std::to_string(live_groups.size()));
  }
  std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> options;
  std::unordered_map<std::int64_t, std::pair<torch::Tensor, const torch::optim::OptimizerOptions*>>
      parameters;
  std::optional<bool> maximize;
  for (std::size_t g = 0; g < live_groups.size(); ++g) {
    const std::string path = where + ".param_groups[" + std::to_string(g) + "]";
    auto group_options = live_groups[g].options().clone();
    const PyNode* params = nullptr;
    for (const auto& [key, value] : str_entries(groups->items[g], path)) {
      if (key == "params") {
        params = require_kind(value, Kind::list, path + ".params", "a list of parameter indices");
      } else if (key == "maximize") {
        const bool value_maximize = boolean(value, path + ".maximize");
        if (maximize && *maximize != value_maximize)
          throw StateError(path + ".maximize differs between groups");
        maximize = value_maximize;
      } else if (const auto setter = kind.read_group.find(key); setter != kind.read_group.end()) {
        setter->second(*group_options, value, path + "." + key);
      } else if (is_switch(key) && !is_switch_default(value)) {
        throw StateError(path + "." + key + " is " + describe(value) +
                         ": LibTorch has no equivalent of this PyTorch switch; only its default is read");
      }
      // Other keys (a scheduler's `initial_lr`, switches at their defaults) do not change the update.
    }
    if (params == nullptr) throw StateError(path + " has no \"params\"");
    const auto& live = live_groups[g].params();
    if (params->items.size() != live.size()) {
      throw StateError(path + ".params lists " + std::to_string(params->items.size()) +
                       " parameters, the group has " + std::to_string(live.size()));
    }
    for (std::size_t p = 0; p < live.size(); ++p) {
      const std::int64_t index = integer(params->items[p], path + ".params[" + std::to_string(p) + "]");
      if (!parameters.emplace(index, std::pair{live[p], group_options.get()}).second)
        throw StateError(path + ".params lists the index " + std::to_string(index) + " twice");
    }
    options.push_back(std::move(group_options));
  }

  ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>> new_state;
  require_kind(states, Kind::dict, where + ".state", "a dict");
  for (const auto& [key, value] : states->entries) {
    if (key->kind != Kind::integer) wrong(where + ".state key", "a parameter index (int)", key);
    const std::string path = where + ".state." + std::to_string(key->integer);
    const auto found = parameters.find(key->integer);
    if (found == parameters.end()) throw StateError(path + ": no parameter has this index");
    auto entry = kind.read_state(value, storages, path, found->second.first, *found->second.second);
    if (entry) new_state[state_key(found->second.first)] = std::move(entry);
  }
  const bool wanted = maximize.value_or(maximizes(optimizer));
  if (wanted && !maximizes(optimizer)) {
    // Whether this optimizer can maximize is known by trying; it is put back at once.
    try {
      set_maximize(optimizer, true);
      set_maximize(optimizer, false);
    } catch (const std::exception& error) {
      throw StateError(where + ": maximize is True, which this " + std::string(kind.name) +
                       " optimizer cannot do (" + error.what() + ")");
    }
  }

  // std::function copies its target: the prepared state is shared, and moved in once.
  struct Prepared {
    std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> options;
    ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>> state;
  };
  auto prepared = std::make_shared<Prepared>(Prepared{std::move(options), std::move(new_state)});
  return [&optimizer, prepared, wanted] {
    auto& groups_now = optimizer.param_groups();
    for (std::size_t g = 0; g < groups_now.size(); ++g)
      groups_now[g].set_options(std::move(prepared->options[g]));
    optimizer.state() = std::move(prepared->state);
    if (wanted != maximizes(optimizer)) set_maximize(optimizer, wanted);
  };
}

}  // namespace torchsystem::checkpoint_detail
