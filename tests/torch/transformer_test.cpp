// The project's MultiheadAttention, transformer layers and LayerNorm (torchsystem/torch/transformer.hpp):
// state-dict names as PyTorch's, outputs as PyTorch 1.13 computes them (scripts/make_transformer_vectors.py
// prints the values), and each argument LibTorch 1.13 lacks against the same computation done directly:
// batch_first against LibTorch's batch-second modules on transposed inputs, norm_first and bias=False
// against the formulas written with functional calls, kdim != vdim against scaled dot-product attention
// written out.
#include <gtest/gtest.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/normalization.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/transformerlayer.h>

#include <cmath>
#include <string>
#include <vector>

#include "torch_test_support.hpp"
#include "torchsystem/torch/transformer.hpp"

namespace {

namespace nn = torchsystem::nn;
namespace F = torch::nn::functional;
using torch::Tensor;

/// "name:[d0, d1]" for each parameter and buffer, in registration order: what PyTorch's state_dict() lists.
std::vector<std::string> state_names(const torch::nn::Module& module) {
  std::vector<std::string> names;
  auto add = [&](const auto& items) {
    for (const auto& item : items) {
      std::string shape;
      for (const auto size : item.value().sizes())
        shape += (shape.empty() ? "" : ", ") + std::to_string(size);
      names.push_back(item.key() + ":[" + shape + "]");
    }
  };
  add(module.named_parameters());
  add(module.named_buffers());
  return names;
}

/// The i-th parameter gets 0.3 * sin(0.7 * k + i) at flat index k, as the script's fill().
void fill(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::int64_t i = 0;
  for (auto& parameter : module.parameters()) {
    const Tensor k = torch::arange(parameter.numel(), torch::kDouble);
    parameter.copy_((0.3 * torch::sin(0.7 * k + static_cast<double>(i++))).reshape(parameter.sizes()));
  }
}

/// cos(0.37 * k + phase) at flat index k, as the script's inputs().
Tensor inputs(std::vector<std::int64_t> shape, double phase = 0.0) {
  std::int64_t count = 1;
  for (const auto size : shape) count *= size;
  return torch::cos(0.37 * torch::arange(count, torch::kDouble) + phase).reshape(shape).to(torch::kFloat);
}

void expect_close(const Tensor& got, const std::vector<float>& expected) {
  ASSERT_EQ(got.numel(), static_cast<std::int64_t>(expected.size()));
  EXPECT_TRUE(torch::allclose(got.flatten(), torch::tensor(expected), 1e-4, 1e-5)) << got;
}

const Tensor& python_mask() {
  static const Tensor mask =
      torch::tensor({0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0}).reshape({3, 4}).to(torch::kBool);
  return mask;
}

const Tensor& python_padding() {
  static const Tensor padding = torch::tensor({0, 0, 1, 0, 0, 0, 0, 0}).reshape({2, 4}).to(torch::kBool);
  return padding;
}

nn::TransformerEncoderLayer encoder_of(nn::TransformerLayerOptions options) {
  nn::TransformerEncoderLayer layer(options);
  layer->eval();
  return layer;
}

// ---------------------------------------------------------------------------------------------------
// PyTorch's names and values.

TEST(Transformer, StateDictNamesAreTorchs) {
  // PyTorch 1.13's state_dict() of the same modules.
  EXPECT_EQ(state_names(*nn::MultiheadAttention(
                nn::MultiheadAttentionOptions(4, 2).kdim(3).vdim(5).add_bias_kv(true).batch_first(true))),
            (std::vector<std::string>{"q_proj_weight:[4, 4]", "k_proj_weight:[4, 3]", "v_proj_weight:[4, 5]",
                                      "in_proj_bias:[12]", "bias_k:[1, 1, 4]", "bias_v:[1, 1, 4]",
                                      "out_proj.weight:[4, 4]", "out_proj.bias:[4]"}));
  EXPECT_EQ(state_names(*nn::MultiheadAttention(8, 2)),
            (std::vector<std::string>{"in_proj_weight:[24, 8]", "in_proj_bias:[24]", "out_proj.weight:[8, 8]",
                                      "out_proj.bias:[8]"}));
  EXPECT_EQ(state_names(*nn::MultiheadAttention(nn::MultiheadAttentionOptions(8, 2).bias(false))),
            (std::vector<std::string>{"in_proj_weight:[24, 8]", "out_proj.weight:[8, 8]"}));
  EXPECT_EQ(state_names(*nn::TransformerEncoderLayer(nn::TransformerLayerOptions(4, 2).dim_feedforward(6))),
            (std::vector<std::string>{"self_attn.in_proj_weight:[12, 4]", "self_attn.in_proj_bias:[12]",
                                      "self_attn.out_proj.weight:[4, 4]", "self_attn.out_proj.bias:[4]",
                                      "linear1.weight:[6, 4]", "linear1.bias:[6]", "linear2.weight:[4, 6]",
                                      "linear2.bias:[4]", "norm1.weight:[4]", "norm1.bias:[4]",
                                      "norm2.weight:[4]", "norm2.bias:[4]"}));
  EXPECT_EQ(
      state_names(*nn::TransformerDecoderLayer(nn::TransformerLayerOptions(8, 2).dim_feedforward(16))),
      (std::vector<std::string>{"self_attn.in_proj_weight:[24, 8]", "self_attn.in_proj_bias:[24]",
                                "self_attn.out_proj.weight:[8, 8]", "self_attn.out_proj.bias:[8]",
                                "multihead_attn.in_proj_weight:[24, 8]", "multihead_attn.in_proj_bias:[24]",
                                "multihead_attn.out_proj.weight:[8, 8]", "multihead_attn.out_proj.bias:[8]",
                                "linear1.weight:[16, 8]", "linear1.bias:[16]", "linear2.weight:[8, 16]",
                                "linear2.bias:[8]", "norm1.weight:[8]", "norm1.bias:[8]", "norm2.weight:[8]",
                                "norm2.bias:[8]", "norm3.weight:[8]", "norm3.bias:[8]"}));
  EXPECT_TRUE(state_names(*nn::LayerNorm(nn::LayerNormOptions({2, 3}).elementwise_affine(false))).empty());
  // PyTorch >= 2.1's bias=False (written from its source; 1.13 has no such argument).
  EXPECT_EQ(state_names(*nn::TransformerEncoderLayer(
                nn::TransformerLayerOptions(4, 2).dim_feedforward(6).bias(false))),
            (std::vector<std::string>{"self_attn.in_proj_weight:[12, 4]", "self_attn.out_proj.weight:[4, 4]",
                                      "linear1.weight:[6, 4]", "linear2.weight:[4, 6]", "norm1.weight:[4]",
                                      "norm2.weight:[4]"}));
  EXPECT_EQ(state_names(*nn::LayerNorm(nn::LayerNormOptions({4}).bias(false))),
            (std::vector<std::string>{"weight:[4]"}));
}

TEST(Transformer, CloneKeepsTheNames) {
  nn::TransformerDecoderLayer layer(nn::TransformerLayerOptions(4, 2).dim_feedforward(6).norm_first(true));
  const auto copy = std::dynamic_pointer_cast<nn::TransformerDecoderLayerImpl>(layer->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(state_names(*copy), state_names(*layer));
  EXPECT_TRUE(copy->options.norm_first());
}

TEST(Transformer, MultiheadAttentionMatchesPyTorch) {
  nn::MultiheadAttention attention(
      nn::MultiheadAttentionOptions(4, 2).kdim(3).vdim(5).add_bias_kv(true).add_zero_attn(true).batch_first(
          true));
  fill(*attention);
  attention->eval();
  const auto [output, weights] = attention(inputs({2, 3, 4}), inputs({2, 4, 3}, 1.0), inputs({2, 4, 5}, 2.0),
                                           python_padding(), true, python_mask());
  expect_close(output, {0.09289512F, 0.41088614F, 0.14493281F, 0.19130926F, 0.13771743F, 0.35729825F,
                        0.20109388F, 0.13906471F, 0.14408582F, 0.34983683F, 0.20878619F, 0.13203043F,
                        0.10041338F, 0.40108931F, 0.15587613F, 0.180484F,   0.15465319F, 0.33896726F,
                        0.2187019F,  0.12421437F, 0.12828806F, 0.36548802F, 0.19509013F, 0.14218867F});
  expect_close(weights, {0.24573389F, 0.F,         0.F,         0.23884153F, 0.26090693F, 0.25451767F,
                         0.24002612F, 0.26101717F, 0.F,         0.F,         0.25717449F, 0.24178232F,
                         0.F,         0.28056684F, 0.F,         0.22402693F, 0.25573286F, 0.23967338F,
                         0.20628521F, 0.F,         0.1835555F,  0.1915846F,  0.21249899F, 0.20607567F,
                         0.22343555F, 0.21303385F, 0.1716336F,  0.F,         0.19787544F, 0.19402155F,
                         0.F,         0.1965448F,  0.19837734F, 0.19625744F, 0.20973541F, 0.19908501F});
}

TEST(Transformer, EncoderLayerMatchesPyTorch) {
  auto layer = encoder_of(nn::TransformerLayerOptions(4, 2)
                              .dim_feedforward(6)
                              .dropout(0.0)
                              .activation(torch::kGELU)
                              .layer_norm_eps(1e-3)
                              .batch_first(true)
                              .norm_first(true));
  fill(*layer);
  const Tensor mask = python_mask().slice(1, 0, 3);
  const Tensor padding = python_padding().slice(1, 0, 3);
  expect_close(layer(inputs({2, 3, 4}), mask, padding),
               {1.3020234F,   1.1147289F,  0.66607285F,  0.14595483F,  0.39700484F,  -0.09342283F,
                -0.67815304F, -1.1510298F, -0.66608715F, -0.81664622F, -0.91377085F, -0.8917684F,
                0.07083407F,  0.23091793F, 0.40835488F,  0.44664371F,  1.2508547F,   1.1655967F,
                0.87230921F,  0.42621726F, 0.74161518F,  0.26803783F,  -0.35651717F, -0.90930843F});
}

TEST(Transformer, DecoderLayerMatchesPyTorch) {
  nn::TransformerDecoderLayer layer(nn::TransformerLayerOptions(4, 2)
                                        .dim_feedforward(6)
                                        .dropout(0.0)
                                        .layer_norm_eps(1e-4)
                                        .batch_first(true)
                                        .norm_first(true));
  layer->eval();
  fill(*layer);
  expect_close(layer(inputs({2, 3, 4}), inputs({2, 4, 4}, 1.0), python_mask().slice(1, 0, 3), python_mask(),
                     Tensor(), python_padding()),
               {0.7066493F,   0.94365942F,   0.73681241F, 0.18173137F,   -0.042092502F, -0.4534868F,
                -0.41236308F, -1.2928687F,   -1.1715174F, -1.0962937F,   -0.74463171F,  -0.93544132F,
                -0.44764239F, -0.012768388F, 0.50448722F, 0.49129033F,   0.78557348F,   0.8377887F,
                1.1017199F,   0.31735668F,   0.27883819F, -0.063749172F, -0.11917398F,  -1.026035F});
}

// ---------------------------------------------------------------------------------------------------
// Each argument against the computation done directly.

TEST(Transformer, BatchFirstIsBatchSecondOnTransposedInputs) {
  nn::MultiheadAttention attention(nn::MultiheadAttentionOptions(8, 2).add_bias_kv(true).batch_first(true));
  torch::nn::MultiheadAttention libtorch(torch::nn::MultiheadAttentionOptions(8, 2).add_bias_kv(true));
  torch_test::copy_parameters(*attention, *libtorch);
  const Tensor query = torch::randn({3, 5, 8}), key = torch::randn({3, 6, 8}),
               value = torch::randn({3, 6, 8});
  const auto [output, weights] = attention(query, key, value);
  const auto [expected, expected_weights] =
      libtorch(query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1));
  EXPECT_TRUE(torch::allclose(output, expected.transpose(0, 1), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(weights, expected_weights, 1e-5, 1e-6));

  auto options = nn::TransformerLayerOptions(8, 2).dim_feedforward(16).dropout(0.0);
  auto encoder = encoder_of(options.batch_first(true));
  torch::nn::TransformerEncoderLayer libtorch_encoder(
      torch::nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.0));
  torch_test::copy_parameters(*encoder, *libtorch_encoder);
  EXPECT_TRUE(
      torch::allclose(encoder(query), libtorch_encoder(query.transpose(0, 1)).transpose(0, 1), 1e-5, 1e-5));

  nn::TransformerDecoderLayer decoder(options.batch_first(true));
  torch::nn::TransformerDecoderLayer libtorch_decoder(
      torch::nn::TransformerDecoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.0));
  torch_test::copy_parameters(*decoder, *libtorch_decoder);
  EXPECT_TRUE(torch::allclose(decoder(query, key),
                              libtorch_decoder(query.transpose(0, 1), key.transpose(0, 1)).transpose(0, 1),
                              1e-5, 1e-5));
}

/// Self- or memory attention with LibTorch's functional form and `attention`'s packed weights.
Tensor functional_attention(nn::MultiheadAttentionImpl& attention, const Tensor& query,
                            const Tensor& memory) {
  const auto& o = attention.options;
  return std::get<0>(F::multi_head_attention_forward(
      query, memory, memory,
      F::MultiheadAttentionForwardFuncOptions(o.embed_dim(), o.num_heads(), attention.in_proj_weight,
                                              attention.in_proj_bias, {}, {}, false, 0.0,
                                              attention.out_proj->weight, attention.out_proj->bias)
          .training(false)
          .need_weights(false)));
}

Tensor functional_norm(nn::LayerNormImpl& norm, const Tensor& x) {
  return F::layer_norm(x, F::LayerNormFuncOptions(norm.options.normalized_shape())
                              .eps(norm.options.eps())
                              .weight(norm.weight)
                              .bias(norm.bias));
}

TEST(Transformer, NormFirstIsTheFormula) {
  auto encoder = encoder_of(nn::TransformerLayerOptions(8, 2)
                                .dim_feedforward(16)
                                .dropout(0.0)
                                .activation(torch::kGELU)
                                .layer_norm_eps(1e-3)
                                .norm_first(true));
  const Tensor x = torch::randn({5, 3, 8});
  const Tensor x1 = x + functional_attention(*encoder->self_attn, functional_norm(*encoder->norm1, x),
                                             functional_norm(*encoder->norm1, x));
  const Tensor ff = F::linear(F::gelu(F::linear(functional_norm(*encoder->norm2, x1),
                                                encoder->linear1->weight, encoder->linear1->bias)),
                              encoder->linear2->weight, encoder->linear2->bias);
  EXPECT_TRUE(torch::allclose(encoder(x), x1 + ff, 1e-5, 1e-5));

  nn::TransformerDecoderLayer decoder(
      nn::TransformerLayerOptions(8, 2).dim_feedforward(16).dropout(0.0).norm_first(true));
  const Tensor memory = torch::randn({7, 3, 8});
  const Tensor y1 = x + functional_attention(*decoder->self_attn, functional_norm(*decoder->norm1, x),
                                             functional_norm(*decoder->norm1, x));
  const Tensor y2 =
      y1 + functional_attention(*decoder->multihead_attn, functional_norm(*decoder->norm2, y1), memory);
  const Tensor y3 = y2 + F::linear(torch::relu(F::linear(functional_norm(*decoder->norm3, y2),
                                                         decoder->linear1->weight, decoder->linear1->bias)),
                                   decoder->linear2->weight, decoder->linear2->bias);
  EXPECT_TRUE(torch::allclose(decoder(x, memory), y3, 1e-5, 1e-5));
}

TEST(Transformer, BiasFalseIsTheFormulaWithoutBiases) {
  auto encoder = encoder_of(nn::TransformerLayerOptions(8, 2).dim_feedforward(16).dropout(0.0).bias(false));
  {
    torch::NoGradGuard no_grad;
    encoder->norm1->weight.uniform_(0.5, 1.5);
    encoder->norm2->weight.uniform_(0.5, 1.5);
  }
  for (const auto& parameter : encoder->named_parameters())
    EXPECT_EQ(parameter.key().find("bias"), std::string::npos) << parameter.key();
  const Tensor x = torch::randn({5, 3, 8});
  const Tensor x1 = functional_norm(*encoder->norm1, x + functional_attention(*encoder->self_attn, x, x));
  const Tensor ff = F::linear(torch::relu(F::linear(x1, encoder->linear1->weight)), encoder->linear2->weight);
  EXPECT_TRUE(torch::allclose(encoder(x), functional_norm(*encoder->norm2, x1 + ff), 1e-5, 1e-5));
}

TEST(Transformer, KdimApartFromVdimIsScaledDotProductAttention) {
  nn::MultiheadAttention attention(nn::MultiheadAttentionOptions(6, 3).kdim(4).vdim(5).batch_first(true));
  {
    torch::NoGradGuard no_grad;
    attention->in_proj_bias.normal_();
    attention->out_proj->bias.normal_();
  }
  const Tensor query = torch::randn({2, 3, 6}), key = torch::randn({2, 7, 4}),
               value = torch::randn({2, 7, 5});
  const auto [output, weights] = attention(query, key, value);

  // Per head h: softmax(q_h k_h^T / sqrt(head_dim)) v_h, on (batch, head, sequence, head_dim).
  const auto biases = attention->in_proj_bias.chunk(3);
  auto heads = [](const Tensor& x) { return x.view({x.size(0), x.size(1), 3, 2}).transpose(1, 2); };
  const Tensor q = heads(F::linear(query, attention->q_proj_weight, biases[0]));
  const Tensor k = heads(F::linear(key, attention->k_proj_weight, biases[1]));
  const Tensor v = heads(F::linear(value, attention->v_proj_weight, biases[2]));
  const Tensor scores = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(2.0), -1);
  const Tensor joined = torch::matmul(scores, v).transpose(1, 2).reshape({2, 3, 6});
  EXPECT_TRUE(torch::allclose(
      output, F::linear(joined, attention->out_proj->weight, attention->out_proj->bias), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(weights, scores.mean(1), 1e-5, 1e-6));
}

TEST(Transformer, UnbatchedInputIsOneBatch) {
  nn::MultiheadAttention attention(nn::MultiheadAttentionOptions(4, 2).batch_first(true));
  const Tensor query = torch::randn({3, 4}), key = torch::randn({5, 4});
  const auto [output, weights] = attention(query, key, key);
  const auto [batched, batched_weights] = attention(query.unsqueeze(0), key.unsqueeze(0), key.unsqueeze(0));
  EXPECT_TRUE(torch::allclose(output, batched.squeeze(0)));
  EXPECT_TRUE(torch::allclose(weights, batched_weights.squeeze(0)));
}

}  // namespace
