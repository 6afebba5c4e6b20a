// The catalog's layers: linear, convolution, pooling, normalization, dropout and embedding modules.
//
// Types that share PyTorch's signature (Conv1d/2d/3d, ConvTranspose1d/2d, MaxPool1d/2d, BatchNorm1d/2d/3d,
// InstanceNorm1d/2d, the dropouts) share one registration template, instantiated once per type.

// LibTorch 1.13's instancenorm.h uses the functional form without including it.
#include <torch/nn/functional/instancenorm.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/instancenorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>

#include <algorithm>
#include <vector>

#include "catalog_support.hpp"
#include "torchsystem/torch/transformer.hpp"

namespace torchsystem::catalog {
namespace {

/// One dimension of an adaptive pooling's output size: an int, or None (keep the input's size).
struct OptionalInt {
  std::optional<std::int64_t> value;
};

}  // namespace
}  // namespace torchsystem::catalog

template <>
struct torchsystem::value_traits<torchsystem::catalog::OptionalInt> {
  static constexpr std::string_view name = "int";  // None is accepted too; the message names the ints
  static Json to_json(const catalog::OptionalInt& size) {
    return value_traits<std::optional<std::int64_t>>::to_json(size.value);
  }
  static catalog::OptionalInt from_json(const Json& json) {
    return {value_traits<std::optional<std::int64_t>>::from_json(json)};
  }
};

namespace torchsystem::catalog {
namespace {

using Modules = decltype(TorchCatalog::modules);

/// An `int or tuple` size of D dimensions, as PyTorch's N-d layers take it.
template <std::size_t D>
using Size = OneOrTuple<std::int64_t, D>;

/// An adaptive pooling's output size: an int, None, or a tuple whose elements are ints or None, as
/// LibTorch's ExpandingArrayWithOptionalElem takes it.
template <std::size_t D>
using OptionalSize = OneOrTuple<OptionalInt, D>;

template <class T>
c10::optional<T> to_c10(const std::optional<T>& value) {
  return value ? c10::optional<T>(*value) : c10::optional<T>(c10::nullopt);
}

template <std::size_t D>
torch::ExpandingArrayWithOptionalElem<D> optional_sizes(const OptionalSize<D>& size) {
  std::vector<c10::optional<std::int64_t>> values;
  for (const auto& element : size.as_vector(D)) values.push_back(to_c10(element.value));
  return torch::ExpandingArrayWithOptionalElem<D>(at::ArrayRef<c10::optional<std::int64_t>>(values));
}

/// A convolution's padding as LibTorch takes it. LibTorch 1.13 pads padding="same" with a padding_mode
/// other than "zeros" in the wrong dimension order (ConvNdImpl::reset does not reverse the dimensions
/// as PyTorch does). When every dimension's total padding dilation * (kernel_size - 1) is even, "same"
/// is the explicit padding of half of it, which LibTorch pads correctly; when all dimensions need the
/// same total padding the order does not matter; any other case is refused. As in PyTorch, "same" is
/// refused for strided convolutions.
template <std::size_t D>
typename torch::nn::ConvOptions<D>::padding_t conv_padding(const ConvPadding<D>& padding,
                                                           const Size<D>& kernel_size, const Size<D>& stride,
                                                           const Size<D>& dilation,
                                                           const std::string& padding_mode) {
  const auto* mode = std::get_if<std::string>(&padding.value());
  if (mode == nullptr) return std::get<0>(padding.value()).template expand<D>();
  if (*mode == "valid") return torch::kValid;
  const auto strides = stride.as_vector(D);
  if (std::any_of(strides.begin(), strides.end(), [](std::int64_t step) { return step != 1; }))
    throw ArgumentError("padding", "padding \"same\" is not supported for strided convolutions");
  if (padding_mode == "zeros") return torch::kSame;
  const auto kernel = kernel_size.as_vector(D);
  const auto dilations = dilation.as_vector(D);
  std::vector<std::int64_t> totals(D);
  for (std::size_t i = 0; i < D; ++i) totals[i] = dilations[i] * (kernel[i] - 1);
  if (std::all_of(totals.begin(), totals.end(), [](std::int64_t total) { return total % 2 == 0; })) {
    std::vector<std::int64_t> halves;
    for (const auto total : totals) halves.push_back(total / 2);
    return torch::ExpandingArray<D>(halves);
  }
  if (std::all_of(totals.begin(), totals.end(), [&](std::int64_t total) { return total == totals.front(); }))
    return torch::kSame;
  throw ArgumentError("padding",
                      "padding \"same\" with padding_mode \"" + padding_mode +
                          "\" needs uneven padding that differs between dimensions here, which LibTorch "
                          "1.13 applies to the wrong dimensions; use padding_mode \"zeros\", or kernel "
                          "sizes and dilations giving every dimension an even dilation * (kernel_size - 1)");
}

/// LibTorch's max pooling forward() returns the output only (forward_with_indices() returns both), so
/// PyTorch's return_indices=True has no equivalent through forward().
void refuse_return_indices(bool return_indices) {
  if (!return_indices) return;
  throw ArgumentError("return_indices",
                      "LibTorch 1.13's forward() returns only the output; only PyTorch's default false is "
                      "accepted, got true (call forward_with_indices() for the indices)");
}

template <class Holder, std::size_t D>
void register_conv(Modules& modules) {
  using Options = torch::nn::ConvOptions<D>;
  modules.register_class<Holder>(
      factory([](std::int64_t in_channels, std::int64_t out_channels, Size<D> kernel_size, Size<D> stride,
                 ConvPadding<D> padding, Size<D> dilation, std::int64_t groups, bool bias,
                 std::string padding_mode) {
        const auto mode = enum_option<typename Options::padding_mode_t>(
            "padding_mode", padding_mode, {"zeros", "reflect", "replicate", "circular"});
        return Options(in_channels, out_channels, kernel_size.template expand<D>())
            .stride(stride.template expand<D>())
            .padding(conv_padding(padding, kernel_size, stride, dilation, padding_mode))
            .dilation(dilation.template expand<D>())
            .groups(groups)
            .bias(bias)
            .padding_mode(mode);
      }),
      "in_channels", "out_channels", "kernel_size", "stride"_a = std::int64_t{1},
      "padding"_a = std::int64_t{0}, "dilation"_a = std::int64_t{1}, "groups"_a = std::int64_t{1},
      "bias"_a = true, "padding_mode"_a = std::string("zeros"));
}

/// PyTorch's transposed convolutions accept only padding_mode "zeros" (any other raises ValueError).
template <class Holder, std::size_t D>
void register_conv_transpose(Modules& modules) {
  using Options = torch::nn::ConvTransposeOptions<D>;
  modules.register_class<Holder>(
      factory([](std::int64_t in_channels, std::int64_t out_channels, Size<D> kernel_size, Size<D> stride,
                 Size<D> padding, Size<D> output_padding, std::int64_t groups, bool bias, Size<D> dilation,
                 std::string padding_mode) {
        return Options(in_channels, out_channels, kernel_size.template expand<D>())
            .stride(stride.template expand<D>())
            .padding(padding.template expand<D>())
            .output_padding(output_padding.template expand<D>())
            .groups(groups)
            .bias(bias)
            .dilation(dilation.template expand<D>())
            .padding_mode(
                enum_option<typename Options::padding_mode_t>("padding_mode", padding_mode, {"zeros"}));
      }),
      "in_channels", "out_channels", "kernel_size", "stride"_a = std::int64_t{1},
      "padding"_a = std::int64_t{0}, "output_padding"_a = std::int64_t{0}, "groups"_a = std::int64_t{1},
      "bias"_a = true, "dilation"_a = std::int64_t{1}, "padding_mode"_a = std::string("zeros"));
}

/// stride=None means kernel_size: LibTorch's options start with stride = kernel_size.
template <class Holder, std::size_t D>
void register_max_pool(Modules& modules) {
  modules.register_class<Holder>(
      factory([](Size<D> kernel_size, std::optional<Size<D>> stride, Size<D> padding, Size<D> dilation,
                 bool return_indices, bool ceil_mode) {
        refuse_return_indices(return_indices);
        return torch::nn::MaxPoolOptions<D>(kernel_size.template expand<D>())
            .stride(stride.value_or(kernel_size).template expand<D>())
            .padding(padding.template expand<D>())
            .dilation(dilation.template expand<D>())
            .ceil_mode(ceil_mode);
      }),
      "kernel_size", "stride"_a = std::nullopt, "padding"_a = std::int64_t{0}, "dilation"_a = std::int64_t{1},
      "return_indices"_a = false, "ceil_mode"_a = false);
}

template <class Holder>
void register_batch_norm(Modules& modules) {
  modules.register_class<Holder>(
      factory([](std::int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                 bool track_running_stats) {
        return torch::nn::BatchNormOptions(num_features)
            .eps(eps)
            .momentum(to_c10(momentum))
            .affine(affine)
            .track_running_stats(track_running_stats);
      }),
      "num_features", "eps"_a = 1e-5, "momentum"_a = 0.1, "affine"_a = true, "track_running_stats"_a = true);
}

/// PyTorch's instance norms pass momentum=None to instance_norm as 0.0; LibTorch's momentum is a float.
template <class Holder>
void register_instance_norm(Modules& modules) {
  modules.register_class<Holder>(
      factory([](std::int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                 bool track_running_stats) {
        return torch::nn::InstanceNormOptions(num_features)
            .eps(eps)
            .momentum(momentum.value_or(0.0))
            .affine(affine)
            .track_running_stats(track_running_stats);
      }),
      "num_features", "eps"_a = 1e-5, "momentum"_a = 0.1, "affine"_a = false,
      "track_running_stats"_a = false);
}

template <class Holder>
void register_dropout(Modules& modules) {
  modules.register_class<Holder>(
      factory([](double p, bool inplace) { return torch::nn::DropoutOptions(p).inplace(inplace); }),
      "p"_a = 0.5, "inplace"_a = false);
}

}  // namespace

void register_layers(TorchCatalog& catalog) {
  auto& modules = catalog.modules;
  modules.register_class<torch::nn::Linear>(
      factory([](std::int64_t in_features, std::int64_t out_features, bool bias) {
        return torch::nn::LinearOptions(in_features, out_features).bias(bias);
      }),
      "in_features", "out_features", "bias"_a = true);
  modules.register_class<torch::nn::Bilinear>(
      factory([](std::int64_t in1_features, std::int64_t in2_features, std::int64_t out_features, bool bias) {
        return torch::nn::BilinearOptions(in1_features, in2_features, out_features).bias(bias);
      }),
      "in1_features", "in2_features", "out_features", "bias"_a = true);

  register_conv<torch::nn::Conv1d, 1>(modules);
  register_conv<torch::nn::Conv2d, 2>(modules);
  register_conv<torch::nn::Conv3d, 3>(modules);
  register_conv_transpose<torch::nn::ConvTranspose1d, 1>(modules);
  register_conv_transpose<torch::nn::ConvTranspose2d, 2>(modules);

  register_max_pool<torch::nn::MaxPool1d, 1>(modules);
  register_max_pool<torch::nn::MaxPool2d, 2>(modules);
  modules.register_class<torch::nn::AvgPool1d>(
      factory([](Size<1> kernel_size, std::optional<Size<1>> stride, Size<1> padding, bool ceil_mode,
                 bool count_include_pad) {
        return torch::nn::AvgPool1dOptions(kernel_size.expand<1>())
            .stride(stride.value_or(kernel_size).expand<1>())
            .padding(padding.expand<1>())
            .ceil_mode(ceil_mode)
            .count_include_pad(count_include_pad);
      }),
      "kernel_size", "stride"_a = std::nullopt, "padding"_a = std::int64_t{0}, "ceil_mode"_a = false,
      "count_include_pad"_a = true);
  modules.register_class<torch::nn::AvgPool2d>(
      factory([](Size<2> kernel_size, std::optional<Size<2>> stride, Size<2> padding, bool ceil_mode,
                 bool count_include_pad, std::optional<std::int64_t> divisor_override) {
        return torch::nn::AvgPool2dOptions(kernel_size.expand<2>())
            .stride(stride.value_or(kernel_size).expand<2>())
            .padding(padding.expand<2>())
            .ceil_mode(ceil_mode)
            .count_include_pad(count_include_pad)
            .divisor_override(to_c10(divisor_override));
      }),
      "kernel_size", "stride"_a = std::nullopt, "padding"_a = std::int64_t{0}, "ceil_mode"_a = false,
      "count_include_pad"_a = true, "divisor_override"_a = std::nullopt);
  modules.register_class<torch::nn::AdaptiveAvgPool1d>(
      factory(
          [](Size<1> output_size) { return torch::nn::AdaptiveAvgPool1dOptions(output_size.expand<1>()); }),
      "output_size");
  modules.register_class<torch::nn::AdaptiveAvgPool2d>(
      factory([](OptionalSize<2> output_size) {
        return torch::nn::AdaptiveAvgPool2dOptions(optional_sizes(output_size));
      }),
      "output_size");
  modules.register_class<torch::nn::AdaptiveMaxPool2d>(
      factory([](OptionalSize<2> output_size, bool return_indices) {
        refuse_return_indices(return_indices);
        return torch::nn::AdaptiveMaxPool2dOptions(optional_sizes(output_size));
      }),
      "output_size", "return_indices"_a = false);

  register_batch_norm<torch::nn::BatchNorm1d>(modules);
  register_batch_norm<torch::nn::BatchNorm2d>(modules);
  register_batch_norm<torch::nn::BatchNorm3d>(modules);
  // The project's LayerNorm (transformer.hpp): LibTorch 1.13's has no bias=False (PyTorch >= 2.1).
  modules.register_class<torchsystem::nn::LayerNorm>(
      factory([](IntOrTupleAny normalized_shape, double eps, bool elementwise_affine, bool bias) {
        return torchsystem::nn::LayerNormOptions(normalized_shape.as_vector(1))
            .eps(eps)
            .elementwise_affine(elementwise_affine)
            .bias(bias);
      }),
      "normalized_shape", "eps"_a = 1e-5, "elementwise_affine"_a = true, "bias"_a = true);
  modules.register_class<torch::nn::GroupNorm>(
      factory([](std::int64_t num_groups, std::int64_t num_channels, double eps, bool affine) {
        return torch::nn::GroupNormOptions(num_groups, num_channels).eps(eps).affine(affine);
      }),
      "num_groups", "num_channels", "eps"_a = 1e-5, "affine"_a = true);
  register_instance_norm<torch::nn::InstanceNorm1d>(modules);
  register_instance_norm<torch::nn::InstanceNorm2d>(modules);

  register_dropout<torch::nn::Dropout>(modules);
  register_dropout<torch::nn::Dropout2d>(modules);
  register_dropout<torch::nn::AlphaDropout>(modules);

  modules.register_class<torch::nn::Embedding>(
      factory([](std::int64_t num_embeddings, std::int64_t embedding_dim,
                 std::optional<std::int64_t> padding_idx, std::optional<double> max_norm, double norm_type,
                 bool scale_grad_by_freq, bool sparse, torch::Tensor weight, bool freeze) {
        only_default("_freeze", freeze, false);
        return torch::nn::EmbeddingOptions(num_embeddings, embedding_dim)
            .padding_idx(to_c10(padding_idx))
            .max_norm(to_c10(max_norm))
            .norm_type(norm_type)
            .scale_grad_by_freq(scale_grad_by_freq)
            .sparse(sparse)
            ._weight(weight);
      }),
      "num_embeddings", "embedding_dim", "padding_idx"_a = std::nullopt, "max_norm"_a = std::nullopt,
      "norm_type"_a = 2.0, "scale_grad_by_freq"_a = false, "sparse"_a = false, "_weight"_a = torch::Tensor(),
      "_freeze"_a = false);
  modules.register_class<torch::nn::EmbeddingBag>(
      factory([](std::int64_t num_embeddings, std::int64_t embedding_dim, std::optional<double> max_norm,
                 double norm_type, bool scale_grad_by_freq, std::string mode, bool sparse,
                 torch::Tensor weight, bool include_last_offset, std::optional<std::int64_t> padding_idx) {
        return torch::nn::EmbeddingBagOptions(num_embeddings, embedding_dim)
            .max_norm(to_c10(max_norm))
            .norm_type(norm_type)
            .scale_grad_by_freq(scale_grad_by_freq)
            .mode(enum_option<torch::nn::EmbeddingBagMode>("mode", mode, {"sum", "mean", "max"}))
            .sparse(sparse)
            ._weight(weight)
            .include_last_offset(include_last_offset)
            .padding_idx(to_c10(padding_idx));
      }),
      "num_embeddings", "embedding_dim", "max_norm"_a = std::nullopt, "norm_type"_a = 2.0,
      "scale_grad_by_freq"_a = false, "mode"_a = std::string("mean"), "sparse"_a = false,
      "_weight"_a = torch::Tensor(), "include_last_offset"_a = false, "padding_idx"_a = std::nullopt);
}

}  // namespace torchsystem::catalog
