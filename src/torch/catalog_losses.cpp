// The catalog's loss modules.
//
// Most of PyTorch's losses keep the deprecated `size_average` and `reduce` in their signature, before
// `reduction`. LibTorch has only `reduction`; when either is given, PyTorch replaces `reduction` with the
// one they stand for, and so does the catalog.
#include <torch/nn/modules/loss.h>

#include "catalog_support.hpp"

namespace torchsystem::catalog {

namespace {

/// PyTorch's deprecated `size_average` or `reduce`: None, or a bool.
using Deprecated = std::optional<bool>;

/// The reduction PyTorch's losses use: `reduction`, unless size_average or reduce is given, which then
/// stand for one (PyTorch's _Reduction.legacy_get_string; None counts as true).
std::string legacy_reduction(const Deprecated& size_average, const Deprecated& reduce,
                             const std::string& reduction) {
  if (!size_average && !reduce) return reduction;
  if (!reduce.value_or(true)) return "none";
  return size_average.value_or(true) ? "mean" : "sum";
}

/// LibTorch's reduction for PyTorch's 'none' | 'mean' | 'sum'.
template <class Options>
typename Options::reduction_t reduction_of(const std::string& reduction) {
  return enum_option<typename Options::reduction_t>("reduction", reduction, {"none", "mean", "sum"});
}

template <class Loss>
using OptionsOf = std::decay_t<decltype(std::declval<typename Loss::ContainedType&>().options)>;

/// A loss whose parameters are PyTorch's (size_average=None, reduce=None, reduction='mean').
template <class Loss>
void register_reduction_loss(Registry<torch::nn::Module>& losses) {
  losses.register_class<Loss>(factory([](Deprecated size_average, Deprecated reduce, std::string reduction) {
                                reduction = legacy_reduction(size_average, reduce, reduction);
                                return OptionsOf<Loss>().reduction(reduction_of<OptionsOf<Loss>>(reduction));
                              }),
                              "size_average"_a = std::nullopt, "reduce"_a = std::nullopt,
                              "reduction"_a = std::string("mean"));
}

/// A loss whose parameters are PyTorch's (margin, size_average=None, reduce=None, reduction='mean').
template <class Loss>
void register_margin_loss(Registry<torch::nn::Module>& losses, double default_margin) {
  losses.register_class<Loss>(
      factory([](double margin, Deprecated size_average, Deprecated reduce, std::string reduction) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return OptionsOf<Loss>().margin(margin).reduction(reduction_of<OptionsOf<Loss>>(reduction));
      }),
      "margin"_a = default_margin, "size_average"_a = std::nullopt, "reduce"_a = std::nullopt,
      "reduction"_a = std::string("mean"));
}

}  // namespace

void register_losses(TorchCatalog& catalog) {
  auto& losses = catalog.losses;
  losses.register_class<torch::nn::CrossEntropyLoss>(
      factory([](torch::Tensor weight, Deprecated size_average, std::int64_t ignore_index, Deprecated reduce,
                 std::string reduction, double label_smoothing) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::CrossEntropyLossOptions()
            .weight(weight)
            .ignore_index(ignore_index)
            .reduction(reduction_of<torch::nn::CrossEntropyLossOptions>(reduction))
            .label_smoothing(label_smoothing);
      }),
      "weight"_a = torch::Tensor(), "size_average"_a = std::nullopt, "ignore_index"_a = std::int64_t{-100},
      "reduce"_a = std::nullopt, "reduction"_a = std::string("mean"), "label_smoothing"_a = 0.0);

  losses.register_class<torch::nn::NLLLoss>(
      factory([](torch::Tensor weight, Deprecated size_average, std::int64_t ignore_index, Deprecated reduce,
                 std::string reduction) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::NLLLossOptions()
            .weight(weight)
            .ignore_index(ignore_index)
            .reduction(reduction_of<torch::nn::NLLLossOptions>(reduction));
      }),
      "weight"_a = torch::Tensor(), "size_average"_a = std::nullopt, "ignore_index"_a = std::int64_t{-100},
      "reduce"_a = std::nullopt, "reduction"_a = std::string("mean"));

  register_reduction_loss<torch::nn::MSELoss>(losses);

  register_reduction_loss<torch::nn::L1Loss>(losses);

  losses.register_class<torch::nn::SmoothL1Loss>(
      factory([](Deprecated size_average, Deprecated reduce, std::string reduction, double beta) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::SmoothL1LossOptions()
            .reduction(reduction_of<torch::nn::SmoothL1LossOptions>(reduction))
            .beta(beta);
      }),
      "size_average"_a = std::nullopt, "reduce"_a = std::nullopt, "reduction"_a = std::string("mean"),
      "beta"_a = 1.0);

  losses.register_class<torch::nn::HuberLoss>(
      factory([](std::string reduction, double delta) {
        return torch::nn::HuberLossOptions()
            .reduction(reduction_of<torch::nn::HuberLossOptions>(reduction))
            .delta(delta);
      }),
      "reduction"_a = std::string("mean"), "delta"_a = 1.0);

  losses.register_class<torch::nn::BCELoss>(
      factory([](torch::Tensor weight, Deprecated size_average, Deprecated reduce, std::string reduction) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::BCELossOptions().weight(weight).reduction(
            reduction_of<torch::nn::BCELossOptions>(reduction));
      }),
      "weight"_a = torch::Tensor(), "size_average"_a = std::nullopt, "reduce"_a = std::nullopt,
      "reduction"_a = std::string("mean"));

  losses.register_class<torch::nn::BCEWithLogitsLoss>(
      factory([](torch::Tensor weight, Deprecated size_average, Deprecated reduce, std::string reduction,
                 torch::Tensor pos_weight) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::BCEWithLogitsLossOptions()
            .weight(weight)
            .reduction(reduction_of<torch::nn::BCEWithLogitsLossOptions>(reduction))
            .pos_weight(pos_weight);
      }),
      "weight"_a = torch::Tensor(), "size_average"_a = std::nullopt, "reduce"_a = std::nullopt,
      "reduction"_a = std::string("mean"), "pos_weight"_a = torch::Tensor());

  losses.register_class<torch::nn::KLDivLoss>(
      factory([](Deprecated size_average, Deprecated reduce, std::string reduction, bool log_target) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::KLDivLossOptions()
            .reduction(enum_option<torch::nn::KLDivLossOptions::reduction_t>(
                "reduction", reduction, {"none", "batchmean", "sum", "mean"}))
            .log_target(log_target);
      }),
      "size_average"_a = std::nullopt, "reduce"_a = std::nullopt, "reduction"_a = std::string("mean"),
      "log_target"_a = false);

  register_margin_loss<torch::nn::CosineEmbeddingLoss>(losses, 0.0);

  register_margin_loss<torch::nn::MarginRankingLoss>(losses, 0.0);

  register_margin_loss<torch::nn::HingeEmbeddingLoss>(losses, 1.0);

  losses.register_class<torch::nn::TripletMarginLoss>(
      factory([](double margin, double p, double eps, bool swap, Deprecated size_average, Deprecated reduce,
                 std::string reduction) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::TripletMarginLossOptions().margin(margin).p(p).eps(eps).swap(swap).reduction(
            reduction_of<torch::nn::TripletMarginLossOptions>(reduction));
      }),
      "margin"_a = 1.0, "p"_a = 2.0, "eps"_a = 1e-6, "swap"_a = false, "size_average"_a = std::nullopt,
      "reduce"_a = std::nullopt, "reduction"_a = std::string("mean"));

  losses.register_class<torch::nn::PoissonNLLLoss>(
      factory([](bool log_input, bool full, Deprecated size_average, double eps, Deprecated reduce,
                 std::string reduction) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::PoissonNLLLossOptions().log_input(log_input).full(full).eps(eps).reduction(
            reduction_of<torch::nn::PoissonNLLLossOptions>(reduction));
      }),
      "log_input"_a = true, "full"_a = false, "size_average"_a = std::nullopt, "eps"_a = 1e-8,
      "reduce"_a = std::nullopt, "reduction"_a = std::string("mean"));

  register_reduction_loss<torch::nn::SoftMarginLoss>(losses);

  register_reduction_loss<torch::nn::MultiLabelMarginLoss>(losses);

  losses.register_class<torch::nn::MultiLabelSoftMarginLoss>(
      factory([](torch::Tensor weight, Deprecated size_average, Deprecated reduce, std::string reduction) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::MultiLabelSoftMarginLossOptions().weight(weight).reduction(
            reduction_of<torch::nn::MultiLabelSoftMarginLossOptions>(reduction));
      }),
      "weight"_a = torch::Tensor(), "size_average"_a = std::nullopt, "reduce"_a = std::nullopt,
      "reduction"_a = std::string("mean"));

  losses.register_class<torch::nn::MultiMarginLoss>(
      factory([](std::int64_t p, double margin, torch::Tensor weight, Deprecated size_average,
                 Deprecated reduce, std::string reduction) {
        reduction = legacy_reduction(size_average, reduce, reduction);
        return torch::nn::MultiMarginLossOptions().p(p).margin(margin).weight(weight).reduction(
            reduction_of<torch::nn::MultiMarginLossOptions>(reduction));
      }),
      "p"_a = std::int64_t{1}, "margin"_a = 1.0, "weight"_a = torch::Tensor(),
      "size_average"_a = std::nullopt, "reduce"_a = std::nullopt, "reduction"_a = std::string("mean"));

  losses.register_class<torch::nn::CTCLoss>(
      factory([](std::int64_t blank, std::string reduction, bool zero_infinity) {
        return torch::nn::CTCLossOptions()
            .blank(blank)
            .reduction(reduction_of<torch::nn::CTCLossOptions>(reduction))
            .zero_infinity(zero_infinity);
      }),
      "blank"_a = std::int64_t{0}, "reduction"_a = std::string("mean"), "zero_infinity"_a = false);
}

}  // namespace torchsystem::catalog
