// The catalog's optimizers. Each takes the parameters to optimize first, in code only: they are left
// out of identity, as the reference's `register(Adam, excluded_args=[0])` does.
//
// `maximize` is provided by building each (but LBFGS) as a subclass of LibTorch's that can step up the
// objective (maximizing.hpp). PyTorch's implementation switches (foreach, fused, capturable,
// differentiable) and Adam's `decoupled_weight_decay` (AdamW is registered for that) have no LibTorch 1.13
// equivalent: they keep their place and accept only PyTorch's default.
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/lbfgs.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include "catalog_support.hpp"
#include "fused_adam.hpp"
#include "maximizing.hpp"

namespace torchsystem::catalog {

namespace {

/// std::optional as LibTorch 1.13's options take it.
template <class T>
c10::optional<T> c10_optional(const std::optional<T>& value) {
  return value ? c10::optional<T>(*value) : c10::nullopt;
}

/// LBFGS's line search: None or the one PyTorch and LibTorch implement, 'strong_wolfe'.
c10::optional<std::string> line_search_of(const std::optional<std::string>& line_search_fn) {
  if (line_search_fn && *line_search_fn != "strong_wolfe")
    throw ArgumentError("line_search_fn",
                        "expected None or \"strong_wolfe\", got \"" + *line_search_fn + "\"");
  return c10_optional(line_search_fn);
}

/// LBFGS keeps `history_size` pairs of vectors the size of all parameters, and LibTorch 1.13 sizes a list
/// to it on the first step: a bound here refuses `history_size=1e9` (some 8 GB of list alone) before
/// anything trains. PyTorch's default is 100; nothing published uses more than a few hundred.
constexpr std::int64_t max_history_size = 10'000;

std::int64_t history_size_of(std::int64_t history_size) {
  if (history_size < 1 || history_size > max_history_size)
    throw ArgumentError("history_size", "expected an int from 1 to " + std::to_string(max_history_size) +
                                            ", got " + std::to_string(history_size));
  return history_size;
}

}  // namespace

using Parameters = std::vector<torch::Tensor>;

void register_optimizers(TorchCatalog& catalog) {
  auto& optimizers = catalog.optimizers;
  optimizers.register_class<torch::optim::SGD>(
      factory([](Parameters params, double lr, double momentum, double dampening, double weight_decay,
                 bool nesterov, bool maximize, std::optional<bool> foreach, bool differentiable,
                 std::optional<bool> fused) {
        only_default("foreach", foreach, std::nullopt);
        only_default("differentiable", differentiable, false);
        only_default("fused", fused, std::nullopt);
        auto options = torch::optim::SGDOptions(lr)
                           .momentum(momentum)
                           .dampening(dampening)
                           .weight_decay(weight_decay)
                           .nesterov(nesterov);
        return optim::make_maximizing<torch::optim::SGD>(std::move(params), options, maximize);
      }),
      "params", "lr"_a = 0.001, "momentum"_a = 0.0, "dampening"_a = 0.0, "weight_decay"_a = 0.0,
      "nesterov"_a = false, "maximize"_a = false, "foreach"_a = std::nullopt, "differentiable"_a = false,
      "fused"_a = std::nullopt, excluded_args{0}, excluded_kwargs{"params"});

  optimizers.register_class<torch::optim::Adam>(
      factory([](Parameters params, double lr, std::tuple<double, double> betas, double eps,
                 double weight_decay, bool amsgrad, std::optional<bool> foreach, bool maximize,
                 bool capturable, bool differentiable, std::optional<bool> fused,
                 bool decoupled_weight_decay) {
        only_default("foreach", foreach, std::nullopt);
        only_default("capturable", capturable, false);
        only_default("differentiable", differentiable, false);
        only_default("fused", fused, std::nullopt);
        only_default("decoupled_weight_decay", decoupled_weight_decay, false);
        auto options =
            torch::optim::AdamOptions(lr).betas(betas).eps(eps).weight_decay(weight_decay).amsgrad(amsgrad);
        return optim::make_maximizing<optim::FusedAdam>(std::move(params), options, maximize);
      }),
      "params", "lr"_a = 0.001, "betas"_a = std::tuple{0.9, 0.999}, "eps"_a = 1e-8, "weight_decay"_a = 0.0,
      "amsgrad"_a = false, "foreach"_a = std::nullopt, "maximize"_a = false, "capturable"_a = false,
      "differentiable"_a = false, "fused"_a = std::nullopt, "decoupled_weight_decay"_a = false,
      excluded_args{0}, excluded_kwargs{"params"});

  optimizers.register_class<torch::optim::AdamW>(
      factory([](Parameters params, double lr, std::tuple<double, double> betas, double eps,
                 double weight_decay, bool amsgrad, bool maximize, std::optional<bool> foreach,
                 bool capturable, bool differentiable, std::optional<bool> fused) {
        only_default("foreach", foreach, std::nullopt);
        only_default("capturable", capturable, false);
        only_default("differentiable", differentiable, false);
        only_default("fused", fused, std::nullopt);
        auto options =
            torch::optim::AdamWOptions(lr).betas(betas).eps(eps).weight_decay(weight_decay).amsgrad(amsgrad);
        return optim::make_maximizing<torch::optim::AdamW>(std::move(params), options, maximize);
      }),
      "params", "lr"_a = 0.001, "betas"_a = std::tuple{0.9, 0.999}, "eps"_a = 1e-8, "weight_decay"_a = 0.01,
      "amsgrad"_a = false, "maximize"_a = false, "foreach"_a = std::nullopt, "capturable"_a = false,
      "differentiable"_a = false, "fused"_a = std::nullopt, excluded_args{0}, excluded_kwargs{"params"});

  optimizers.register_class<torch::optim::RMSprop>(
      factory([](Parameters params, double lr, double alpha, double eps, double weight_decay, double momentum,
                 bool centered, bool capturable, std::optional<bool> foreach, bool maximize,
                 bool differentiable) {
        only_default("capturable", capturable, false);
        only_default("foreach", foreach, std::nullopt);
        only_default("differentiable", differentiable, false);
        auto options = torch::optim::RMSpropOptions(lr)
                           .alpha(alpha)
                           .eps(eps)
                           .weight_decay(weight_decay)
                           .momentum(momentum)
                           .centered(centered);
        return optim::make_maximizing<torch::optim::RMSprop>(std::move(params), options, maximize);
      }),
      "params", "lr"_a = 0.01, "alpha"_a = 0.99, "eps"_a = 1e-8, "weight_decay"_a = 0.0, "momentum"_a = 0.0,
      "centered"_a = false, "capturable"_a = false, "foreach"_a = std::nullopt, "maximize"_a = false,
      "differentiable"_a = false, excluded_args{0}, excluded_kwargs{"params"});

  optimizers.register_class<torch::optim::Adagrad>(
      factory([](Parameters params, double lr, double lr_decay, double weight_decay,
                 double initial_accumulator_value, double eps, std::optional<bool> foreach, bool maximize,
                 bool differentiable, std::optional<bool> fused) {
        only_default("foreach", foreach, std::nullopt);
        only_default("differentiable", differentiable, false);
        only_default("fused", fused, std::nullopt);
        auto options = torch::optim::AdagradOptions(lr)
                           .lr_decay(lr_decay)
                           .weight_decay(weight_decay)
                           .initial_accumulator_value(initial_accumulator_value)
                           .eps(eps);
        return optim::make_maximizing<torch::optim::Adagrad>(std::move(params), options, maximize);
      }),
      "params", "lr"_a = 0.01, "lr_decay"_a = 0.0, "weight_decay"_a = 0.0,
      "initial_accumulator_value"_a = 0.0, "eps"_a = 1e-10, "foreach"_a = std::nullopt, "maximize"_a = false,
      "differentiable"_a = false, "fused"_a = std::nullopt, excluded_args{0}, excluded_kwargs{"params"});

  optimizers.register_class<torch::optim::LBFGS>(
      factory([](Parameters params, double lr, std::int64_t max_iter, std::optional<std::int64_t> max_eval,
                 double tolerance_grad, double tolerance_change, std::int64_t history_size,
                 std::optional<std::string> line_search_fn) {
        auto options = torch::optim::LBFGSOptions(lr)
                           .max_iter(max_iter)
                           .max_eval(c10_optional(max_eval))
                           .tolerance_grad(tolerance_grad)
                           .tolerance_change(tolerance_change)
                           .history_size(history_size_of(history_size))
                           .line_search_fn(line_search_of(line_search_fn));
        return std::tuple{std::move(params), options};
      }),
      "params", "lr"_a = 1.0, "max_iter"_a = std::int64_t{20}, "max_eval"_a = std::nullopt,
      "tolerance_grad"_a = 1e-7, "tolerance_change"_a = 1e-9, "history_size"_a = std::int64_t{100},
      "line_search_fn"_a = std::nullopt, excluded_args{0}, excluded_kwargs{"params"});
}

}  // namespace torchsystem::catalog
