// The catalog's recurrent, attention, transformer, shape and resampling modules.
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pixelshuffle.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/modules/upsampling.h>

#include "catalog_support.hpp"
#include "torchsystem/torch/transformer.hpp"
#include "torchsystem/torch/upsample.hpp"

namespace torchsystem::catalog {

namespace {

/// The modes PyTorch documents for Upsample, as LibTorch's interpolate takes them.
using UpsampleMode = torch::nn::functional::InterpolateFuncOptions::mode_t;

/// A transformer layer's activation: PyTorch's "relu" (its default, the function F.relu) or "gelu".
/// LibTorch's activation_t also holds a callable, which enum_option cannot name, hence the narrower
/// variant.
torch::nn::activation_t transformer_activation(const std::string& activation) {
  using Named = c10::variant<torch::enumtype::kReLU, torch::enumtype::kGELU>;
  return c10::visit([](auto alternative) -> torch::nn::activation_t { return alternative; },
                    enum_option<Named>("activation", activation, {"relu", "gelu"}));
}

/// TransformerEncoderLayer and TransformerDecoderLayer share PyTorch's signature. They are the
/// project's (transformer.hpp): LibTorch 1.13's have no layer_norm_eps, batch_first, norm_first or bias.
template <class Layer>
void register_transformer_layer(Registry<torch::nn::Module>& modules) {
  modules.register_class<Layer>(
      factory([](std::int64_t d_model, std::int64_t nhead, std::int64_t dim_feedforward, double dropout,
                 std::string activation, double layer_norm_eps, bool batch_first, bool norm_first,
                 bool bias) {
        return torchsystem::nn::TransformerLayerOptions(d_model, nhead)
            .dim_feedforward(dim_feedforward)
            .dropout(dropout)
            .activation(transformer_activation(activation))
            .layer_norm_eps(layer_norm_eps)
            .batch_first(batch_first)
            .norm_first(norm_first)
            .bias(bias);
      }),
      "d_model", "nhead", "dim_feedforward"_a = std::int64_t{2048}, "dropout"_a = 0.1,
      "activation"_a = std::string("relu"), "layer_norm_eps"_a = 1e-5, "batch_first"_a = false,
      "norm_first"_a = false, "bias"_a = true);
}

}  // namespace

void register_sequence_layers(TorchCatalog& catalog) {
  auto& modules = catalog.modules;

  modules.register_class<torch::nn::LSTM>(
      factory([](std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers, bool bias,
                 bool batch_first, double dropout, bool bidirectional, std::int64_t proj_size) {
        return torch::nn::LSTMOptions(input_size, hidden_size)
            .num_layers(num_layers)
            .bias(bias)
            .batch_first(batch_first)
            .dropout(dropout)
            .bidirectional(bidirectional)
            .proj_size(proj_size);
      }),
      "input_size", "hidden_size", "num_layers"_a = std::int64_t{1}, "bias"_a = true, "batch_first"_a = false,
      "dropout"_a = 0.0, "bidirectional"_a = false, "proj_size"_a = std::int64_t{0});

  modules.register_class<torch::nn::GRU>(
      factory([](std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers, bool bias,
                 bool batch_first, double dropout, bool bidirectional) {
        return torch::nn::GRUOptions(input_size, hidden_size)
            .num_layers(num_layers)
            .bias(bias)
            .batch_first(batch_first)
            .dropout(dropout)
            .bidirectional(bidirectional);
      }),
      "input_size", "hidden_size", "num_layers"_a = std::int64_t{1}, "bias"_a = true, "batch_first"_a = false,
      "dropout"_a = 0.0, "bidirectional"_a = false);

  modules.register_class<torch::nn::RNN>(
      factory([](std::int64_t input_size, std::int64_t hidden_size, std::int64_t num_layers,
                 std::string nonlinearity, bool bias, bool batch_first, double dropout, bool bidirectional) {
        return torch::nn::RNNOptions(input_size, hidden_size)
            .num_layers(num_layers)
            .nonlinearity(enum_option<torch::nn::RNNOptions::nonlinearity_t>("nonlinearity", nonlinearity,
                                                                             {"tanh", "relu"}))
            .bias(bias)
            .batch_first(batch_first)
            .dropout(dropout)
            .bidirectional(bidirectional);
      }),
      "input_size", "hidden_size", "num_layers"_a = std::int64_t{1}, "nonlinearity"_a = std::string("tanh"),
      "bias"_a = true, "batch_first"_a = false, "dropout"_a = 0.0, "bidirectional"_a = false);

  modules.register_class<torch::nn::LSTMCell>(
      factory([](std::int64_t input_size, std::int64_t hidden_size, bool bias) {
        return torch::nn::LSTMCellOptions(input_size, hidden_size).bias(bias);
      }),
      "input_size", "hidden_size", "bias"_a = true);

  modules.register_class<torch::nn::GRUCell>(
      factory([](std::int64_t input_size, std::int64_t hidden_size, bool bias) {
        return torch::nn::GRUCellOptions(input_size, hidden_size).bias(bias);
      }),
      "input_size", "hidden_size", "bias"_a = true);

  // The project's MultiheadAttention: LibTorch 1.13's has no batch_first and cannot run with kdim != vdim.
  modules.register_class<torchsystem::nn::MultiheadAttention>(
      factory([](std::int64_t embed_dim, std::int64_t num_heads, double dropout, bool bias, bool add_bias_kv,
                 bool add_zero_attn, std::optional<std::int64_t> kdim, std::optional<std::int64_t> vdim,
                 bool batch_first) {
        return torchsystem::nn::MultiheadAttentionOptions(embed_dim, num_heads)
            .dropout(dropout)
            .bias(bias)
            .add_bias_kv(add_bias_kv)
            .add_zero_attn(add_zero_attn)
            .kdim(kdim.value_or(embed_dim))
            .vdim(vdim.value_or(embed_dim))
            .batch_first(batch_first);
      }),
      "embed_dim", "num_heads", "dropout"_a = 0.0, "bias"_a = true, "add_bias_kv"_a = false,
      "add_zero_attn"_a = false, "kdim"_a = std::nullopt, "vdim"_a = std::nullopt, "batch_first"_a = false);

  register_transformer_layer<torchsystem::nn::TransformerEncoderLayer>(modules);
  register_transformer_layer<torchsystem::nn::TransformerDecoderLayer>(modules);

  modules.register_class<torch::nn::Flatten>(
      factory([](std::int64_t start_dim, std::int64_t end_dim) {
        return torch::nn::FlattenOptions().start_dim(start_dim).end_dim(end_dim);
      }),
      "start_dim"_a = std::int64_t{1}, "end_dim"_a = std::int64_t{-1});

  modules.register_class<torch::nn::Unflatten>(
      factory([](std::int64_t dim, std::vector<std::int64_t> unflattened_size) {
        return torch::nn::UnflattenOptions(dim, std::move(unflattened_size));
      }),
      "dim", "unflattened_size");

  // PyTorch's Identity(*args, **kwargs) ignores whatever it is given; here it takes nothing.
  modules.register_class<torch::nn::Identity()>();

  modules.register_class<torch::nn::PixelShuffle>(
      factory([](std::int64_t upscale_factor) { return torch::nn::PixelShuffleOptions(upscale_factor); }),
      "upscale_factor");

  // The project's Upsample: LibTorch 1.13's cannot repeat a single size or scale factor (see upsample.hpp).
  modules.register_class<torchsystem::nn::Upsample>(
      factory([](std::optional<IntOrTupleAny> size, std::optional<FloatOrTupleAny> scale_factor,
                 std::string mode, std::optional<bool> align_corners,
                 std::optional<bool> recompute_scale_factor) {
        if (size && scale_factor) {
          throw ArgumentError("scale_factor", "only one of size and scale_factor may be given");
        }
        return torchsystem::nn::UpsampleOptions()
            .size(std::move(size))
            .scale_factor(std::move(scale_factor))
            .mode(enum_option<UpsampleMode>("mode", mode,
                                            {"nearest", "linear", "bilinear", "bicubic", "trilinear"}))
            .align_corners(align_corners)
            .recompute_scale_factor(recompute_scale_factor);
      }),
      "size"_a = std::nullopt, "scale_factor"_a = std::nullopt, "mode"_a = std::string("nearest"),
      "align_corners"_a = std::nullopt, "recompute_scale_factor"_a = std::nullopt);
}

}  // namespace torchsystem::catalog
