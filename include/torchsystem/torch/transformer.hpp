// MultiheadAttention, TransformerEncoderLayer, TransformerDecoderLayer and LayerNorm as PyTorch's, with
// the arguments LibTorch 1.13's lack.
//
// LibTorch 1.13's modules have no `batch_first`, `norm_first`, `bias=False` (transformer layers, and
// LayerNorm as in PyTorch >= 2.1), `layer_norm_eps` (transformer layers), and its MultiheadAttention
// cannot run with kdim != vdim. These modules take all of them, written the way LibTorch writes its own
// (options structs, Cloneable Impls, TORCH_MODULE holders), and compute as PyTorch 1.13's modules do.
// Their parameters carry PyTorch's state-dict names, shapes and order (`self_attn.in_proj_weight`,
// `norm1.weight`, ...), so checkpoints match Python's. The catalog registers them under PyTorch's names:
//
//   torchsystem::nn::TransformerEncoderLayer layer(
//       torchsystem::nn::TransformerEncoderLayerOptions(16, 4).batch_first(true).norm_first(true));
//   layer(torch::randn({2, 5, 16})).sizes();   // [2, 5, 16]: (batch, sequence, feature)
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/common.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/options/transformerlayer.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <tuple>
#include <vector>

namespace torchsystem::nn {

/// Options for LayerNorm, as torch.nn.LayerNorm takes them (PyTorch >= 2.1, with `bias`).
struct LayerNormOptions {
  /* implicit */ LayerNormOptions(std::vector<std::int64_t> normalized_shape);
  /// The trailing dimensions normalized over.
  TORCH_ARG(std::vector<std::int64_t>, normalized_shape);
  /// Added to the variance for numerical stability.
  TORCH_ARG(double, eps) = 1e-5;
  /// Learn a per-element weight (initially ones) and, with `bias`, a bias (initially zeros).
  TORCH_ARG(bool, elementwise_affine) = true;
  /// With elementwise_affine: learn the bias too.
  TORCH_ARG(bool, bias) = true;
};

/// Layer normalization over the trailing `normalized_shape` dimensions, as torch.nn.LayerNorm.
class LayerNormImpl : public torch::nn::Cloneable<LayerNormImpl> {
 public:
  explicit LayerNormImpl(LayerNormOptions options_);
  torch::Tensor forward(const torch::Tensor& input);
  void reset() override;
  void reset_parameters();
  /// Pretty prints the module as `torchsystem::nn::LayerNorm([4], eps=1e-05, elementwise_affine=true,
  /// bias=true)`.
  void pretty_print(std::ostream& stream) const override;

  LayerNormOptions options;
  /// Undefined without elementwise_affine.
  torch::Tensor weight;
  /// Undefined without elementwise_affine or without bias.
  torch::Tensor bias;
};
TORCH_MODULE(LayerNorm);

/// Options for MultiheadAttention, as torch.nn.MultiheadAttention takes them.
struct MultiheadAttentionOptions {
  MultiheadAttentionOptions(std::int64_t embed_dim, std::int64_t num_heads);
  TORCH_ARG(std::int64_t, embed_dim);
  TORCH_ARG(std::int64_t, num_heads);
  /// Dropout on the attention weights, in training.
  TORCH_ARG(double, dropout) = 0.0;
  /// Biases in the input and output projections.
  TORCH_ARG(bool, bias) = true;
  /// Learned biases appended to the keys and values along the sequence.
  TORCH_ARG(bool, add_bias_kv) = false;
  /// A zero key and value appended along the sequence.
  TORCH_ARG(bool, add_zero_attn) = false;
  /// The features of the keys and of the values; embed_dim by default (set by the constructor).
  TORCH_ARG(std::int64_t, kdim);
  TORCH_ARG(std::int64_t, vdim);
  /// Inputs and outputs are (batch, sequence, feature) instead of (sequence, batch, feature).
  TORCH_ARG(bool, batch_first) = false;
};

/// Multi-head attention, as torch.nn.MultiheadAttention (its non-fast path).
class MultiheadAttentionImpl : public torch::nn::Cloneable<MultiheadAttentionImpl> {
 public:
  MultiheadAttentionImpl(std::int64_t embed_dim, std::int64_t num_heads)
      : MultiheadAttentionImpl(MultiheadAttentionOptions(embed_dim, num_heads)) {}
  explicit MultiheadAttentionImpl(const MultiheadAttentionOptions& options_);

  /// The attention output and, with need_weights, the attention weights (averaged over the heads with
  /// average_attn_weights). Masks may be bool (true: not attended) or float (added); inputs may be
  /// unbatched (sequence, feature).
  std::tuple<torch::Tensor, torch::Tensor> forward(const torch::Tensor& query, const torch::Tensor& key,
                                                   const torch::Tensor& value,
                                                   const torch::Tensor& key_padding_mask = {},
                                                   bool need_weights = true,
                                                   const torch::Tensor& attn_mask = {},
                                                   bool average_attn_weights = true);

  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  MultiheadAttentionOptions options;
  /// Whether key and value have embed_dim features, hence one packed input projection.
  bool packed_projection() const {
    return options.kdim() == options.embed_dim() && options.vdim() == options.embed_dim();
  }
  /// Defined when packed_projection(); else q_proj_weight, k_proj_weight and v_proj_weight are.
  torch::Tensor in_proj_weight;
  torch::Tensor q_proj_weight;
  torch::Tensor k_proj_weight;
  torch::Tensor v_proj_weight;
  /// Defined with bias.
  torch::Tensor in_proj_bias;
  /// Defined with add_bias_kv.
  torch::Tensor bias_k;
  torch::Tensor bias_v;
  torch::nn::Linear out_proj = nullptr;

 protected:
  FORWARD_HAS_DEFAULT_ARGS({3, torch::nn::AnyValue(torch::Tensor())}, {4, torch::nn::AnyValue(true)},
                           {5, torch::nn::AnyValue(torch::Tensor())}, {6, torch::nn::AnyValue(true)})
};
TORCH_MODULE(MultiheadAttention);

/// Options for TransformerEncoderLayer and TransformerDecoderLayer, as PyTorch's take them.
struct TransformerLayerOptions {
  TransformerLayerOptions(std::int64_t d_model, std::int64_t nhead);
  TORCH_ARG(std::int64_t, d_model);
  TORCH_ARG(std::int64_t, nhead);
  TORCH_ARG(std::int64_t, dim_feedforward) = 2048;
  TORCH_ARG(double, dropout) = 0.1;
  /// ReLU, GELU, or a function of a tensor.
  TORCH_ARG(torch::nn::activation_t, activation) = torch::kReLU;
  /// The eps of the layer norms.
  TORCH_ARG(double, layer_norm_eps) = 1e-5;
  /// Inputs and outputs are (batch, sequence, feature).
  TORCH_ARG(bool, batch_first) = false;
  /// Normalize before the attention and feed-forward blocks instead of after.
  TORCH_ARG(bool, norm_first) = false;
  /// Biases in the linear layers, the attention and the layer norms (PyTorch >= 2.1).
  TORCH_ARG(bool, bias) = true;
};
using TransformerEncoderLayerOptions = TransformerLayerOptions;
using TransformerDecoderLayerOptions = TransformerLayerOptions;

/// Self-attention and feed-forward, as torch.nn.TransformerEncoderLayer (its non-fast path).
class TransformerEncoderLayerImpl : public torch::nn::Cloneable<TransformerEncoderLayerImpl> {
 public:
  TransformerEncoderLayerImpl(std::int64_t d_model, std::int64_t nhead)
      : TransformerEncoderLayerImpl(TransformerLayerOptions(d_model, nhead)) {}
  explicit TransformerEncoderLayerImpl(const TransformerLayerOptions& options_);

  torch::Tensor forward(const torch::Tensor& src, const torch::Tensor& src_mask = {},
                        const torch::Tensor& src_key_padding_mask = {});

  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  TransformerLayerOptions options;
  MultiheadAttention self_attn = nullptr;
  torch::nn::Linear linear1 = nullptr;
  torch::nn::Dropout dropout = nullptr;
  torch::nn::Linear linear2 = nullptr;
  LayerNorm norm1 = nullptr;
  LayerNorm norm2 = nullptr;
  torch::nn::Dropout dropout1 = nullptr;
  torch::nn::Dropout dropout2 = nullptr;

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(torch::Tensor())},
                           {2, torch::nn::AnyValue(torch::Tensor())})

 private:
  torch::Tensor self_attention_block(const torch::Tensor& x, const torch::Tensor& mask,
                                     const torch::Tensor& key_padding_mask);
  torch::Tensor feed_forward_block(const torch::Tensor& x);
};
TORCH_MODULE(TransformerEncoderLayer);

/// Self-attention, attention over the memory and feed-forward, as torch.nn.TransformerDecoderLayer.
class TransformerDecoderLayerImpl : public torch::nn::Cloneable<TransformerDecoderLayerImpl> {
 public:
  TransformerDecoderLayerImpl(std::int64_t d_model, std::int64_t nhead)
      : TransformerDecoderLayerImpl(TransformerLayerOptions(d_model, nhead)) {}
  explicit TransformerDecoderLayerImpl(const TransformerLayerOptions& options_);

  torch::Tensor forward(const torch::Tensor& tgt, const torch::Tensor& memory,
                        const torch::Tensor& tgt_mask = {}, const torch::Tensor& memory_mask = {},
                        const torch::Tensor& tgt_key_padding_mask = {},
                        const torch::Tensor& memory_key_padding_mask = {});

  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  TransformerLayerOptions options;
  MultiheadAttention self_attn = nullptr;
  MultiheadAttention multihead_attn = nullptr;
  torch::nn::Linear linear1 = nullptr;
  torch::nn::Dropout dropout = nullptr;
  torch::nn::Linear linear2 = nullptr;
  LayerNorm norm1 = nullptr;
  LayerNorm norm2 = nullptr;
  LayerNorm norm3 = nullptr;
  torch::nn::Dropout dropout1 = nullptr;
  torch::nn::Dropout dropout2 = nullptr;
  torch::nn::Dropout dropout3 = nullptr;

 protected:
  FORWARD_HAS_DEFAULT_ARGS({2, torch::nn::AnyValue(torch::Tensor())},
                           {3, torch::nn::AnyValue(torch::Tensor())},
                           {4, torch::nn::AnyValue(torch::Tensor())},
                           {5, torch::nn::AnyValue(torch::Tensor())})

 private:
  torch::Tensor self_attention_block(const torch::Tensor& x, const torch::Tensor& mask,
                                     const torch::Tensor& key_padding_mask);
  torch::Tensor memory_attention_block(const torch::Tensor& x, const torch::Tensor& memory,
                                       const torch::Tensor& mask, const torch::Tensor& key_padding_mask);
  torch::Tensor feed_forward_block(const torch::Tensor& x);
};
TORCH_MODULE(TransformerDecoderLayer);

}  // namespace torchsystem::nn
