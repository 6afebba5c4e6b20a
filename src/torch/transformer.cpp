// The project's attention, transformer layers and LayerNorm (see torchsystem/torch/transformer.hpp).
//
// The computations follow PyTorch 1.13's torch.nn.functional.multi_head_attention_forward and the
// layers' non-fast paths; registration orders follow PyTorch's __init__, which fixes the state-dict order.
#include "torchsystem/torch/transformer.hpp"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/init.h>

#include <cmath>
#include <limits>

namespace torchsystem::nn {

namespace F = torch::nn::functional;

// ------------------------------------------------------------------------------------------------
// LayerNorm

LayerNormOptions::LayerNormOptions(std::vector<std::int64_t> normalized_shape)
    : normalized_shape_(std::move(normalized_shape)) {}

LayerNormImpl::LayerNormImpl(LayerNormOptions options_) : options(std::move(options_)) {
  reset();
}

void LayerNormImpl::reset() {
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", torch::empty(options.normalized_shape()));
    if (options.bias()) bias = register_parameter("bias", torch::empty(options.normalized_shape()));
  }
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (weight.defined()) weight.fill_(1);
  if (bias.defined()) bias.zero_();
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& input) {
  return torch::layer_norm(input, options.normalized_shape(), weight, bias, options.eps());
}

void LayerNormImpl::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "torchsystem::nn::LayerNorm(" << torch::IntArrayRef(options.normalized_shape())
         << ", eps=" << options.eps() << ", elementwise_affine=" << options.elementwise_affine()
         << ", bias=" << options.bias() << ")";
}

// ------------------------------------------------------------------------------------------------
// MultiheadAttention

MultiheadAttentionOptions::MultiheadAttentionOptions(std::int64_t embed_dim, std::int64_t num_heads)
    : embed_dim_(embed_dim), num_heads_(num_heads), kdim_(embed_dim), vdim_(embed_dim) {}

MultiheadAttentionImpl::MultiheadAttentionImpl(const MultiheadAttentionOptions& options_)
    : options(options_) {
  reset();
}

void MultiheadAttentionImpl::reset() {
  const std::int64_t embed_dim = options.embed_dim();
  TORCH_CHECK(options.num_heads() > 0 && embed_dim % options.num_heads() == 0,
              "embed_dim must be divisible by num_heads");
  if (packed_projection()) {
    in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * embed_dim, embed_dim}));
  } else {
    q_proj_weight = register_parameter("q_proj_weight", torch::empty({embed_dim, embed_dim}));
    k_proj_weight = register_parameter("k_proj_weight", torch::empty({embed_dim, options.kdim()}));
    v_proj_weight = register_parameter("v_proj_weight", torch::empty({embed_dim, options.vdim()}));
  }
  if (options.bias()) in_proj_bias = register_parameter("in_proj_bias", torch::empty({3 * embed_dim}));
  out_proj = register_module(
      "out_proj", torch::nn::Linear(torch::nn::LinearOptions(embed_dim, embed_dim).bias(options.bias())));
  if (options.add_bias_kv()) {
    bias_k = register_parameter("bias_k", torch::empty({1, 1, embed_dim}));
    bias_v = register_parameter("bias_v", torch::empty({1, 1, embed_dim}));
  }
  reset_parameters();
}

void MultiheadAttentionImpl::reset_parameters() {
  namespace init = torch::nn::init;
  for (auto* weight : {&in_proj_weight, &q_proj_weight, &k_proj_weight, &v_proj_weight}) {
    if (weight->defined()) init::xavier_uniform_(*weight);
  }
  if (in_proj_bias.defined()) {
    init::constant_(in_proj_bias, 0.0);
    init::constant_(out_proj->bias, 0.0);
  }
  if (bias_k.defined()) init::xavier_normal_(bias_k);
  if (bias_v.defined()) init::xavier_normal_(bias_v);
}

void MultiheadAttentionImpl::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "torchsystem::nn::MultiheadAttention(embed_dim=" << options.embed_dim()
         << ", num_heads=" << options.num_heads() << ", kdim=" << options.kdim()
         << ", vdim=" << options.vdim() << ", batch_first=" << options.batch_first() << ")";
}

namespace {

/// A bool mask (true: not attended) as PyTorch turns it into an additive one; uint8 counts as bool.
torch::Tensor additive_mask(const torch::Tensor& mask, const torch::Tensor& like) {
  if (!mask.defined() || mask.is_floating_point()) return mask;
  return torch::zeros(mask.sizes(), like.options())
      .masked_fill(mask.to(torch::kBool), -std::numeric_limits<double>::infinity());
}

/// One more attended position (for bias_k/bias_v and add_zero_attn): masks gain a 0 column.
torch::Tensor pad_last(const torch::Tensor& mask) {
  return mask.defined() ? F::pad(mask, F::PadFuncOptions({0, 1})) : mask;
}

/// The attention mask as (batch * heads, target, source) or (1, target, source), with the key padding
/// mask (batch, source) merged in, additive.
torch::Tensor merged_mask(torch::Tensor attn_mask, torch::Tensor key_padding_mask, std::int64_t batch,
                          std::int64_t heads, const torch::Tensor& like) {
  if (attn_mask.defined() && attn_mask.dim() == 2) attn_mask = attn_mask.unsqueeze(0);
  if (key_padding_mask.defined()) {
    const std::int64_t source = key_padding_mask.size(1);
    key_padding_mask = key_padding_mask.view({batch, 1, 1, source})
                           .expand({-1, heads, -1, -1})
                           .reshape({batch * heads, 1, source});
    if (key_padding_mask.scalar_type() == torch::kByte) key_padding_mask = key_padding_mask.to(torch::kBool);
    if (!attn_mask.defined())
      attn_mask = key_padding_mask;
    else if (attn_mask.scalar_type() == torch::kBool && key_padding_mask.scalar_type() == torch::kBool)
      attn_mask = attn_mask.logical_or(key_padding_mask);
    else
      attn_mask = additive_mask(attn_mask, like) + additive_mask(key_padding_mask, like);
  }
  return additive_mask(attn_mask, like);
}

}  // namespace

std::tuple<torch::Tensor, torch::Tensor> MultiheadAttentionImpl::forward(
    const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
    const torch::Tensor& key_padding_mask, bool need_weights, const torch::Tensor& attn_mask,
    bool average_attn_weights) {
  const bool batched = query.dim() == 3;
  // (sequence, batch, feature) inside, whatever the layout outside.
  auto inside = [&](const torch::Tensor& x) {
    return !batched ? x.unsqueeze(1) : options.batch_first() ? x.transpose(0, 1) : x;
  };
  const torch::Tensor q_in = inside(query), k_in = inside(key), v_in = inside(value);
  torch::Tensor padding =
      batched || !key_padding_mask.defined() ? key_padding_mask : key_padding_mask.unsqueeze(0);
  const std::int64_t target = q_in.size(0), batch = q_in.size(1), embed_dim = options.embed_dim();
  const std::int64_t heads = options.num_heads(), head_dim = embed_dim / heads;
  TORCH_CHECK(q_in.size(2) == embed_dim, "expected query of ", embed_dim, " features, got ", q_in.size(2));
  TORCH_CHECK(k_in.sizes().slice(0, 2) == v_in.sizes().slice(0, 2),
              "key's sequence and batch dims do not match value's");

  const auto biases = in_proj_bias.defined() ? in_proj_bias.chunk(3) : std::vector<torch::Tensor>(3);
  const auto weights = packed_projection()
                           ? in_proj_weight.chunk(3)
                           : std::vector<torch::Tensor>{q_proj_weight, k_proj_weight, v_proj_weight};
  torch::Tensor q = F::linear(q_in, weights[0], biases[0]);
  torch::Tensor k = F::linear(k_in, weights[1], biases[1]);
  torch::Tensor v = F::linear(v_in, weights[2], biases[2]);

  torch::Tensor mask = attn_mask;
  if (bias_k.defined()) {
    k = torch::cat({k, bias_k.repeat({1, batch, 1})});
    v = torch::cat({v, bias_v.repeat({1, batch, 1})});
    mask = pad_last(mask);
    padding = pad_last(padding);
  }
  auto heads_first = [&](const torch::Tensor& x) {
    return x.contiguous().view({x.size(0), batch * heads, head_dim}).transpose(0, 1);
  };
  q = heads_first(q);
  k = heads_first(k);
  v = heads_first(v);
  if (options.add_zero_attn()) {
    k = torch::cat({k, torch::zeros({batch * heads, 1, head_dim}, k.options())}, 1);
    v = torch::cat({v, torch::zeros({batch * heads, 1, head_dim}, v.options())}, 1);
    mask = pad_last(mask);
    padding = pad_last(padding);
  }
  const std::int64_t source = k.size(1);
  mask = merged_mask(mask, padding, batch, heads, q);

  const torch::Tensor scaled = q / std::sqrt(static_cast<double>(head_dim));
  torch::Tensor attention = mask.defined() ? torch::baddbmm(mask, scaled, k.transpose(-2, -1))
                                           : torch::bmm(scaled, k.transpose(-2, -1));
  attention = torch::softmax(attention, -1);
  if (is_training() && options.dropout() > 0.0)
    attention = torch::dropout(attention, options.dropout(), true);

  torch::Tensor output =
      torch::bmm(attention, v).transpose(0, 1).contiguous().view({target * batch, embed_dim});
  output = out_proj(output).view({target, batch, embed_dim});
  output = !batched ? output.squeeze(1) : options.batch_first() ? output.transpose(0, 1) : output;
  if (!need_weights) return {output, torch::Tensor()};
  attention = attention.view({batch, heads, target, source});
  if (average_attn_weights) attention = attention.sum(1) / static_cast<double>(heads);
  if (!batched) attention = attention.squeeze(0);
  return {output, attention};
}

// ------------------------------------------------------------------------------------------------
// Transformer layers

TransformerLayerOptions::TransformerLayerOptions(std::int64_t d_model, std::int64_t nhead)
    : d_model_(d_model), nhead_(nhead) {}

namespace {

torch::Tensor activate(const torch::nn::activation_t& activation, const torch::Tensor& x) {
  if (c10::get_if<torch::enumtype::kReLU>(&activation)) return torch::relu(x);
  if (c10::get_if<torch::enumtype::kGELU>(&activation)) return torch::gelu(x);
  return c10::get<std::function<torch::Tensor(const torch::Tensor&)>>(activation)(x);
}

MultiheadAttention attention_of(const TransformerLayerOptions& options) {
  return MultiheadAttention(MultiheadAttentionOptions(options.d_model(), options.nhead())
                                .dropout(options.dropout())
                                .bias(options.bias())
                                .batch_first(options.batch_first()));
}

torch::nn::Linear linear_of(std::int64_t in, std::int64_t out, const TransformerLayerOptions& options) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(options.bias()));
}

LayerNorm norm_of(const TransformerLayerOptions& options) {
  return LayerNorm(LayerNormOptions({options.d_model()}).eps(options.layer_norm_eps()).bias(options.bias()));
}

void print_layer(std::ostream& stream, const char* name, const TransformerLayerOptions& options) {
  stream << std::boolalpha << "torchsystem::nn::" << name << "(d_model=" << options.d_model()
         << ", nhead=" << options.nhead() << ", dim_feedforward=" << options.dim_feedforward()
         << ", batch_first=" << options.batch_first() << ", norm_first=" << options.norm_first()
         << ", bias=" << options.bias() << ")";
}

}  // namespace

TransformerEncoderLayerImpl::TransformerEncoderLayerImpl(const TransformerLayerOptions& options_)
    : options(options_) {
  reset();
}

void TransformerEncoderLayerImpl::reset() {
  self_attn = register_module("self_attn", attention_of(options));
  linear1 = register_module("linear1", linear_of(options.d_model(), options.dim_feedforward(), options));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout()));
  linear2 = register_module("linear2", linear_of(options.dim_feedforward(), options.d_model(), options));
  norm1 = register_module("norm1", norm_of(options));
  norm2 = register_module("norm2", norm_of(options));
  dropout1 = register_module("dropout1", torch::nn::Dropout(options.dropout()));
  dropout2 = register_module("dropout2", torch::nn::Dropout(options.dropout()));
}

void TransformerEncoderLayerImpl::reset_parameters() {
  self_attn->reset_parameters();
  linear1->reset_parameters();
  linear2->reset_parameters();
  norm1->reset_parameters();
  norm2->reset_parameters();
}

void TransformerEncoderLayerImpl::pretty_print(std::ostream& stream) const {
  print_layer(stream, "TransformerEncoderLayer", options);
}

torch::Tensor TransformerEncoderLayerImpl::self_attention_block(const torch::Tensor& x,
                                                                const torch::Tensor& mask,
                                                                const torch::Tensor& key_padding_mask) {
  return dropout1(std::get<0>(self_attn(x, x, x, key_padding_mask, /*need_weights=*/false, mask)));
}

torch::Tensor TransformerEncoderLayerImpl::feed_forward_block(const torch::Tensor& x) {
  return dropout2(linear2(dropout(activate(options.activation(), linear1(x)))));
}

torch::Tensor TransformerEncoderLayerImpl::forward(const torch::Tensor& src, const torch::Tensor& src_mask,
                                                   const torch::Tensor& src_key_padding_mask) {
  torch::Tensor x = src;
  if (options.norm_first()) {
    x = x + self_attention_block(norm1(x), src_mask, src_key_padding_mask);
    return x + feed_forward_block(norm2(x));
  }
  x = norm1(x + self_attention_block(x, src_mask, src_key_padding_mask));
  return norm2(x + feed_forward_block(x));
}

TransformerDecoderLayerImpl::TransformerDecoderLayerImpl(const TransformerLayerOptions& options_)
    : options(options_) {
  reset();
}

void TransformerDecoderLayerImpl::reset() {
  self_attn = register_module("self_attn", attention_of(options));
  multihead_attn = register_module("multihead_attn", attention_of(options));
  linear1 = register_module("linear1", linear_of(options.d_model(), options.dim_feedforward(), options));
  dropout = register_module("dropout", torch::nn::Dropout(options.dropout()));
  linear2 = register_module("linear2", linear_of(options.dim_feedforward(), options.d_model(), options));
  norm1 = register_module("norm1", norm_of(options));
  norm2 = register_module("norm2", norm_of(options));
  norm3 = register_module("norm3", norm_of(options));
  dropout1 = register_module("dropout1", torch::nn::Dropout(options.dropout()));
  dropout2 = register_module("dropout2", torch::nn::Dropout(options.dropout()));
  dropout3 = register_module("dropout3", torch::nn::Dropout(options.dropout()));
}

void TransformerDecoderLayerImpl::reset_parameters() {
  self_attn->reset_parameters();
  multihead_attn->reset_parameters();
  linear1->reset_parameters();
  linear2->reset_parameters();
  norm1->reset_parameters();
  norm2->reset_parameters();
  norm3->reset_parameters();
}

void TransformerDecoderLayerImpl::pretty_print(std::ostream& stream) const {
  print_layer(stream, "TransformerDecoderLayer", options);
}

torch::Tensor TransformerDecoderLayerImpl::self_attention_block(const torch::Tensor& x,
                                                                const torch::Tensor& mask,
                                                                const torch::Tensor& key_padding_mask) {
  return dropout1(std::get<0>(self_attn(x, x, x, key_padding_mask, /*need_weights=*/false, mask)));
}

torch::Tensor TransformerDecoderLayerImpl::memory_attention_block(const torch::Tensor& x,
                                                                  const torch::Tensor& memory,
                                                                  const torch::Tensor& mask,
                                                                  const torch::Tensor& key_padding_mask) {
  return dropout2(
      std::get<0>(multihead_attn(x, memory, memory, key_padding_mask, /*need_weights=*/false, mask)));
}

torch::Tensor TransformerDecoderLayerImpl::feed_forward_block(const torch::Tensor& x) {
  return dropout3(linear2(dropout(activate(options.activation(), linear1(x)))));
}

torch::Tensor TransformerDecoderLayerImpl::forward(const torch::Tensor& tgt, const torch::Tensor& memory,
                                                   const torch::Tensor& tgt_mask,
                                                   const torch::Tensor& memory_mask,
                                                   const torch::Tensor& tgt_key_padding_mask,
                                                   const torch::Tensor& memory_key_padding_mask) {
  torch::Tensor x = tgt;
  if (options.norm_first()) {
    x = x + self_attention_block(norm1(x), tgt_mask, tgt_key_padding_mask);
    x = x + memory_attention_block(norm2(x), memory, memory_mask, memory_key_padding_mask);
    return x + feed_forward_block(norm3(x));
  }
  x = norm1(x + self_attention_block(x, tgt_mask, tgt_key_padding_mask));
  x = norm2(x + memory_attention_block(x, memory, memory_mask, memory_key_padding_mask));
  return norm3(x + feed_forward_block(x));
}

}  // namespace torchsystem::nn
