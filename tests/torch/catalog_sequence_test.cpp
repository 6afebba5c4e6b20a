// The catalog's recurrent, attention, transformer, shape and resampling modules: each is built from a
// configuration through the catalog, used on a small tensor and compared with the same module built
// directly with LibTorch's options (weights copied in) or with the functional form.
#include <gtest/gtest.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pixelshuffle.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/modules/transformerlayer.h>
#include <torch/nn/modules/upsampling.h>

#include <initializer_list>
#include <string>

#include <string_view>
#include "torchsystem/torch/transformer.hpp"
#include "torchsystem/torch/upsample.hpp"

#include "torch_test_support.hpp"

namespace {

namespace ts = torchsystem;
namespace F = torch::nn::functional;

void expect_contains(const std::string& text, std::initializer_list<std::string_view> parts) {
  for (const auto part : parts)
    EXPECT_NE(text.find(part), std::string::npos) << '"' << part << "\" not in: " << text;
}

std::string describe(std::string_view name) {
  return ts::torch_catalog().modules.info(name).describe();
}

// ---------------------------------------------------------------------------------------------------
// Signatures: PyTorch's parameter names, order and defaults (device and dtype left out).

TEST(CatalogSequenceSignature, MatchesPyTorchDocumentation) {
  EXPECT_EQ(
      describe("LSTM"),
      "LSTM(input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = true, batch_first: bool = "
      "false, dropout: float = 0.0, bidirectional: bool = false, proj_size: int = 0)");
  EXPECT_EQ(
      describe("GRU"),
      "GRU(input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = true, batch_first: bool = "
      "false, dropout: float = 0.0, bidirectional: bool = false)");
  EXPECT_EQ(
      describe("RNN"),
      "RNN(input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = \"tanh\", bias: bool "
      "= true, batch_first: bool = false, dropout: float = 0.0, bidirectional: bool = false)");
  EXPECT_EQ(describe("LSTMCell"), "LSTMCell(input_size: int, hidden_size: int, bias: bool = true)");
  EXPECT_EQ(describe("GRUCell"), "GRUCell(input_size: int, hidden_size: int, bias: bool = true)");
  EXPECT_EQ(
      describe("MultiheadAttention"),
      "MultiheadAttention(embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = true, "
      "add_bias_kv: bool = false, add_zero_attn: bool = false, kdim: Optional = null, vdim: Optional = null"
      ", batch_first: bool = false)");
  for (const std::string name : {"TransformerEncoderLayer", "TransformerDecoderLayer"}) {
    EXPECT_EQ(describe(name),
              name +
                  "(d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1, "
                  "activation: str = \"relu\", layer_norm_eps: float = 1e-05, batch_first: bool = "
                  "false, norm_first: bool = false, bias: bool = true)");
  }
  EXPECT_EQ(describe("Flatten"), "Flatten(start_dim: int = 1, end_dim: int = -1)");
  EXPECT_EQ(describe("Unflatten"), "Unflatten(dim: int, unflattened_size: list)");
  EXPECT_EQ(describe("Identity"), "Identity()");
  EXPECT_EQ(describe("PixelShuffle"), "PixelShuffle(upscale_factor: int)");
  EXPECT_EQ(describe("Upsample"),
            "Upsample(size: Optional = null, scale_factor: Optional = null, mode: str = \"nearest\", "
            "align_corners: Optional = null, recompute_scale_factor: Optional = null)");
}

// ---------------------------------------------------------------------------------------------------
// Recurrent layers.

TEST(CatalogSequenceRecurrent, LSTMMapsEveryOptionAndMatchesLibTorch) {
  auto lstm = torch_test::build<torch::nn::LSTM>(
      R"({"name": "LSTM", "arguments": {"input_size": 3, "hidden_size": 5, "num_layers": 2, "bias": false,
          "batch_first": true, "dropout": 0.0, "bidirectional": true, "proj_size": 2}})");
  const auto& options = lstm->options;
  EXPECT_EQ(options.input_size(), 3);
  EXPECT_EQ(options.hidden_size(), 5);
  EXPECT_EQ(options.num_layers(), 2);
  EXPECT_FALSE(options.bias());
  EXPECT_TRUE(options.batch_first());
  EXPECT_TRUE(options.bidirectional());
  EXPECT_EQ(options.proj_size(), 2);

  torch::nn::LSTM direct(
      torch::nn::LSTMOptions(3, 5).num_layers(2).bias(false).batch_first(true).bidirectional(true).proj_size(
          2));
  torch_test::copy_parameters(*lstm, *direct);
  const torch::Tensor input = torch::randn({4, 6, 3});  // (batch, sequence, features): batch_first
  const auto [output, state] = lstm->forward(input);
  const auto [h_n, c_n] = state;
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{4, 6, 2 * 2}));  // 2 directions x proj_size
  EXPECT_EQ(h_n.sizes(), (std::vector<int64_t>{2 * 2, 4, 2}));     // layers x directions, batch, proj_size
  EXPECT_EQ(c_n.sizes(), (std::vector<int64_t>{2 * 2, 4, 5}));     // cell state keeps hidden_size
  EXPECT_TRUE(torch::equal(output, std::get<0>(direct->forward(input))));
}

TEST(CatalogSequenceRecurrent, GRUMapsEveryOptionAndMatchesLibTorch) {
  auto gru = torch_test::build<torch::nn::GRU>(
      R"({"name": "GRU", "arguments": {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bias": false,
          "batch_first": true, "dropout": 0.5, "bidirectional": true}})");
  EXPECT_EQ(gru->options.num_layers(), 2);
  EXPECT_FALSE(gru->options.bias());
  EXPECT_TRUE(gru->options.batch_first());
  EXPECT_DOUBLE_EQ(gru->options.dropout(), 0.5);
  EXPECT_TRUE(gru->options.bidirectional());

  torch::nn::GRU direct(
      torch::nn::GRUOptions(3, 4).num_layers(2).bias(false).batch_first(true).dropout(0.5).bidirectional(
          true));
  torch_test::copy_parameters(*gru, *direct);
  gru->eval();
  direct->eval();
  const torch::Tensor input = torch::randn({2, 5, 3});
  const auto [output, h_n] = gru->forward(input);
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{2, 5, 2 * 4}));
  EXPECT_EQ(h_n.sizes(), (std::vector<int64_t>{2 * 2, 2, 4}));
  EXPECT_TRUE(torch::equal(output, std::get<0>(direct->forward(input))));
}

TEST(CatalogSequenceRecurrent, RNNMapsNonlinearityAndMatchesLibTorch) {
  auto rnn = torch_test::build<torch::nn::RNN>(
      R"({"name": "RNN", "arguments": {"input_size": 3, "hidden_size": 4, "num_layers": 1,
          "nonlinearity": "relu", "bias": true, "batch_first": false, "dropout": 0.0, "bidirectional": false}})");
  EXPECT_TRUE(c10::get_if<torch::enumtype::kReLU>(&rnn->options.nonlinearity()));

  torch::nn::RNN direct(torch::nn::RNNOptions(3, 4).nonlinearity(torch::kReLU));
  torch_test::copy_parameters(*rnn, *direct);
  const torch::Tensor input = torch::randn({6, 2, 3});  // (sequence, batch, features)
  const auto [output, h_n] = rnn->forward(input);
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{6, 2, 4}));
  EXPECT_EQ(h_n.sizes(), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_TRUE(torch::equal(output, std::get<0>(direct->forward(input))));
  EXPECT_GE(output.min().item<float>(), 0.0F);  // ReLU, not tanh

  auto tanh_rnn = torch_test::build<torch::nn::RNN>(R"({"name": "RNN", "arguments": {"input_size": 3,
      "hidden_size": 4}})");
  EXPECT_TRUE(c10::get_if<torch::enumtype::kTanh>(&tanh_rnn->options.nonlinearity()));
}

TEST(CatalogSequenceRecurrent, RNNRefusesAnUnknownNonlinearity) {
  expect_contains(torch_test::build_error(R"({"name": "RNN", "arguments": {"input_size": 3, "hidden_size": 4,
                      "nonlinearity": "sigmoid"}})"),
                  {"RNN.nonlinearity", R"(one of "tanh", "relu")", R"(got "sigmoid")"});
}

TEST(CatalogSequenceRecurrent, LSTMCellStepsLikeLibTorch) {
  auto cell = torch_test::build<torch::nn::LSTMCell>(
      R"({"name": "LSTMCell", "arguments": {"input_size": 3, "hidden_size": 6, "bias": false}})");
  EXPECT_FALSE(cell->options.bias());
  EXPECT_FALSE(cell->named_parameters().contains("bias_ih"));

  torch::nn::LSTMCell direct(torch::nn::LSTMCellOptions(3, 6).bias(false));
  torch_test::copy_parameters(*cell, *direct);
  const torch::Tensor input = torch::randn({2, 3});
  const auto [h, c] = cell->forward(input);
  EXPECT_EQ(h.sizes(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(c.sizes(), (std::vector<int64_t>{2, 6}));
  EXPECT_TRUE(torch::equal(h, std::get<0>(direct->forward(input))));
}

TEST(CatalogSequenceRecurrent, GRUCellStepsLikeLibTorch) {
  auto cell = torch_test::build<torch::nn::GRUCell>(
      R"({"name": "GRUCell", "arguments": {"input_size": 3, "hidden_size": 5, "bias": false}})");
  EXPECT_FALSE(cell->named_parameters().contains("bias_hh"));

  torch::nn::GRUCell direct(torch::nn::GRUCellOptions(3, 5).bias(false));
  torch_test::copy_parameters(*cell, *direct);
  const torch::Tensor input = torch::randn({4, 3});
  const torch::Tensor hidden = torch::randn({4, 5});
  const torch::Tensor next = cell->forward(input, hidden);
  EXPECT_EQ(next.sizes(), (std::vector<int64_t>{4, 5}));
  EXPECT_TRUE(torch::equal(next, direct->forward(input, hidden)));
}

// ---------------------------------------------------------------------------------------------------
// Attention and transformer layers: the project's (torchsystem/torch/transformer.hpp), compared here
// with LibTorch's where LibTorch has the arguments; transformer_test.cpp tests what LibTorch lacks.

TEST(CatalogSequenceAttention, MultiheadAttentionMapsEveryOptionAndMatchesLibTorch) {
  auto attention = torch_test::build<torchsystem::nn::MultiheadAttention>(
      R"({"name": "MultiheadAttention", "arguments": {"embed_dim": 8, "num_heads": 2, "dropout": 0.0,
          "bias": false, "add_bias_kv": true, "add_zero_attn": true, "kdim": 3, "vdim": 3,
          "batch_first": false}})");
  EXPECT_EQ(attention->options.kdim(), 3);
  EXPECT_EQ(attention->options.vdim(), 3);
  EXPECT_EQ(attention->k_proj_weight.sizes(), (std::vector<int64_t>{8, 3}));
  EXPECT_EQ(attention->v_proj_weight.sizes(), (std::vector<int64_t>{8, 3}));
  EXPECT_FALSE(attention->in_proj_bias.defined());  // bias=False
  EXPECT_TRUE(attention->bias_k.defined());         // add_bias_kv=True

  torch::nn::MultiheadAttention direct(torch::nn::MultiheadAttentionOptions(8, 2)
                                           .bias(false)
                                           .add_bias_kv(true)
                                           .add_zero_attn(true)
                                           .kdim(3)
                                           .vdim(3));
  torch_test::copy_parameters(*attention, *direct);
  const torch::Tensor query = torch::randn({4, 2, 8});  // (target length, batch, embed_dim)
  const torch::Tensor key = torch::randn({6, 2, 3});    // (source length, batch, kdim)
  const torch::Tensor value = torch::randn({6, 2, 3});  // (source length, batch, vdim)
  const auto [output, weights] = attention->forward(query, key, value);
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{4, 2, 8}));
  EXPECT_EQ(weights.sizes(), (std::vector<int64_t>{2, 4, 6 + 1 + 1}));  // bias_kv and zero_attn add one each
  EXPECT_TRUE(torch::allclose(output, std::get<0>(direct->forward(query, key, value)), 1e-5, 1e-6));
}

TEST(CatalogSequenceAttention, MultiheadAttentionKdimAndVdimDefaultToEmbedDim) {
  auto attention = torch_test::build<torchsystem::nn::MultiheadAttention>(
      R"({"name": "MultiheadAttention", "arguments": {"embed_dim": 6, "num_heads": 3, "kdim": null}})");
  EXPECT_EQ(attention->options.kdim(), 6);
  EXPECT_EQ(attention->options.vdim(), 6);
  EXPECT_EQ(attention->in_proj_weight.sizes(), (std::vector<int64_t>{3 * 6, 6}));
  const torch::Tensor x = torch::randn({5, 2, 6});
  EXPECT_EQ(std::get<0>(attention->forward(x, x, x)).sizes(), x.sizes());
}

TEST(CatalogSequenceAttention, MultiheadAttentionTakesBatchFirstAndKdimApartFromVdim) {
  auto attention = torch_test::build<torchsystem::nn::MultiheadAttention>(
      R"({"name": "MultiheadAttention", "arguments": {"embed_dim": 8, "num_heads": 2, "kdim": 3, "vdim": 5,
          "batch_first": true}})");
  EXPECT_TRUE(attention->options.batch_first());
  EXPECT_FALSE(attention->in_proj_weight.defined());
  EXPECT_EQ(attention->k_proj_weight.sizes(), (std::vector<int64_t>{8, 3}));
  EXPECT_EQ(attention->v_proj_weight.sizes(), (std::vector<int64_t>{8, 5}));
  const auto [output, weights] =
      attention->forward(torch::randn({2, 4, 8}), torch::randn({2, 6, 3}), torch::randn({2, 6, 5}));
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{2, 4, 8}));  // (batch, target length, embed_dim)
  EXPECT_EQ(weights.sizes(), (std::vector<int64_t>{2, 4, 6}));
}

TEST(CatalogSequenceTransformer, EncoderLayerMapsOptionsAndMatchesLibTorch) {
  auto layer = torch_test::build<torchsystem::nn::TransformerEncoderLayer>(
      R"({"name": "TransformerEncoderLayer", "arguments": {"d_model": 8, "nhead": 2, "dim_feedforward": 16,
          "dropout": 0.0, "activation": "gelu"}})");
  EXPECT_EQ(layer->options.dim_feedforward(), 16);
  EXPECT_TRUE(c10::get_if<torch::enumtype::kGELU>(&layer->options.activation()));
  EXPECT_EQ(layer->linear1->weight.sizes(), (std::vector<int64_t>{16, 8}));

  auto options = torch::nn::TransformerEncoderLayerOptions(8, 2).dim_feedforward(16).dropout(0.0);
  torch::nn::TransformerEncoderLayer gelu(options.activation(torch::kGELU));
  torch::nn::TransformerEncoderLayer relu(options.activation(torch::kReLU));
  torch_test::copy_parameters(*layer, *gelu);
  torch_test::copy_parameters(*layer, *relu);
  const torch::Tensor source = torch::randn({5, 3, 8});  // (sequence, batch, d_model)
  const torch::Tensor output = layer->forward(source);
  EXPECT_EQ(output.sizes(), source.sizes());
  EXPECT_TRUE(torch::allclose(output, gelu->forward(source), 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(output, relu->forward(source)));
}

TEST(CatalogSequenceTransformer, EncoderLayerDefaultsAreLibTorchs) {
  auto layer = torch_test::build<torchsystem::nn::TransformerEncoderLayer>(
      R"({"name": "TransformerEncoderLayer", "arguments": {"d_model": 4, "nhead": 2}})");
  EXPECT_EQ(layer->options.dim_feedforward(), 2048);
  EXPECT_DOUBLE_EQ(layer->options.dropout(), 0.1);
  EXPECT_TRUE(c10::get_if<torch::enumtype::kReLU>(&layer->options.activation()));
  EXPECT_DOUBLE_EQ(layer->norm1->options.eps(), 1e-5);  // PyTorch's layer_norm_eps default
  EXPECT_DOUBLE_EQ(layer->norm2->options.eps(), 1e-5);
}

TEST(CatalogSequenceTransformer, DecoderLayerMapsOptionsAndMatchesLibTorch) {
  auto layer = torch_test::build<torchsystem::nn::TransformerDecoderLayer>(
      R"({"name": "TransformerDecoderLayer", "arguments": {"d_model": 8, "nhead": 4, "dim_feedforward": 12,
          "dropout": 0.0, "activation": "gelu", "layer_norm_eps": 1e-05, "batch_first": false,
          "norm_first": false, "bias": true}})");
  EXPECT_EQ(layer->options.nhead(), 4);
  EXPECT_TRUE(c10::get_if<torch::enumtype::kGELU>(&layer->options.activation()));
  EXPECT_DOUBLE_EQ(layer->norm3->options.eps(), 1e-5);

  auto options = torch::nn::TransformerDecoderLayerOptions(8, 4).dim_feedforward(12).dropout(0.0);
  torch::nn::TransformerDecoderLayer gelu(options.activation(torch::kGELU));
  torch::nn::TransformerDecoderLayer relu(options.activation(torch::kReLU));
  torch_test::copy_parameters(*layer, *gelu);
  torch_test::copy_parameters(*layer, *relu);
  const torch::Tensor target = torch::randn({4, 2, 8});  // (target length, batch, d_model)
  const torch::Tensor memory = torch::randn({7, 2, 8});  // (source length, batch, d_model)
  const torch::Tensor output = layer->forward(target, memory);
  EXPECT_EQ(output.sizes(), target.sizes());
  EXPECT_TRUE(torch::allclose(output, gelu->forward(target, memory), 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(output, relu->forward(target, memory)));
}

TEST(CatalogSequenceTransformer, LayersMapTheArgumentsLibTorchLacks) {
  auto encoder = torch_test::build<torchsystem::nn::TransformerEncoderLayer>(
      R"({"name": "TransformerEncoderLayer", "arguments": {"d_model": 8, "nhead": 2, "layer_norm_eps": 1e-06,
          "batch_first": true, "norm_first": true, "bias": false}})");
  EXPECT_DOUBLE_EQ(encoder->norm1->options.eps(), 1e-6);
  EXPECT_DOUBLE_EQ(encoder->norm2->options.eps(), 1e-6);
  EXPECT_TRUE(encoder->options.norm_first());
  EXPECT_TRUE(encoder->self_attn->options.batch_first());
  EXPECT_FALSE(encoder->linear1->bias.defined());
  auto decoder = torch_test::build<torchsystem::nn::TransformerDecoderLayer>(
      R"({"name": "TransformerDecoderLayer", "arguments": {"d_model": 8, "nhead": 2, "layer_norm_eps": 0.001,
          "batch_first": true, "norm_first": true}})");
  EXPECT_DOUBLE_EQ(decoder->norm3->options.eps(), 1e-3);
  EXPECT_TRUE(decoder->multihead_attn->options.batch_first());
}

TEST(CatalogSequenceTransformer, LayersRefuseAnActivationNotNamed) {
  for (const std::string name : {"TransformerEncoderLayer", "TransformerDecoderLayer"}) {
    expect_contains(
        torch_test::build_error(R"({"name": ")" + name +
                                R"(", "arguments": {"d_model": 8, "nhead": 2, "activation": "tanh"}})"),
        {name + ".activation", R"(one of "relu", "gelu")", R"(got "tanh")"});
  }
}

// ---------------------------------------------------------------------------------------------------
// Shape layers.

TEST(CatalogSequenceShape, FlattenFlattensTheGivenRange) {
  auto flatten = torch_test::build<torch::nn::Flatten>(
      R"({"name": "Flatten", "arguments": {"start_dim": 0, "end_dim": 1}})");
  const torch::Tensor input = torch::randn({2, 3, 4});
  const torch::Tensor output = flatten->forward(input);
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{6, 4}));
  EXPECT_TRUE(torch::equal(output, input.flatten(0, 1)));
  auto by_default = torch_test::build<torch::nn::Flatten>(R"({"name": "Flatten"})");
  EXPECT_EQ(by_default->forward(input).sizes(), (std::vector<int64_t>{2, 12}));
}

TEST(CatalogSequenceShape, UnflattenSplitsADimension) {
  auto unflatten = torch_test::build<torch::nn::Unflatten>(
      R"({"name": "Unflatten", "arguments": {"dim": 1, "unflattened_size": [2, 3]}})");
  const torch::Tensor input = torch::randn({4, 6});
  const torch::Tensor output = unflatten->forward(input);
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{4, 2, 3}));
  EXPECT_TRUE(torch::equal(output, input.view({4, 2, 3})));
}

TEST(CatalogSequenceShape, IdentityTakesNoArguments) {
  auto identity = torch_test::build<torch::nn::Identity>(R"({"name": "Identity"})");
  const torch::Tensor input = torch::randn({3, 2});
  EXPECT_TRUE(identity->forward(input).is_same(input));
  // PyTorch's Identity ignores any argument; the catalog's takes none, so none can go unnoticed.
  expect_contains(torch_test::build_error(R"({"name": "Identity", "arguments": {"in_features": 54}})"),
                  {"in_features"});
}

TEST(CatalogSequenceShape, PixelShuffleMovesChannelsToSpace) {
  auto shuffle = torch_test::build<torch::nn::PixelShuffle>(
      R"({"name": "PixelShuffle", "arguments": {"upscale_factor": 2}})");
  const torch::Tensor input = torch::randn({1, 8, 3, 3});
  const torch::Tensor output = shuffle->forward(input);
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{1, 2, 6, 6}));
  EXPECT_TRUE(torch::equal(output, torch::pixel_shuffle(input, 2)));
}

// ---------------------------------------------------------------------------------------------------
// Upsample.

TEST(CatalogSequenceUpsample, ScaleFactorWithBilinearModeMatchesInterpolate) {
  auto upsample = torch_test::build<torchsystem::nn::Upsample>(
      R"({"name": "Upsample", "arguments": {"scale_factor": 2, "mode": "bilinear", "align_corners": true}})");
  ASSERT_TRUE(upsample->options.scale_factor());
  EXPECT_TRUE(upsample->options.scale_factor()->is_scalar()) << "kept as given, repeated at forward";
  EXPECT_EQ(upsample->options.align_corners(), std::optional<bool>(true));
  const torch::Tensor input = torch::arange(1.0, 5.0).view({1, 1, 2, 2});
  const torch::Tensor output = upsample->forward(input);
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{1, 1, 4, 4}));
  const torch::Tensor expected = F::interpolate(input, F::InterpolateFuncOptions()
                                                           .scale_factor(std::vector<double>{2, 2})
                                                           .mode(torch::kBilinear)
                                                           .align_corners(true));
  EXPECT_TRUE(torch::allclose(output, expected));
  EXPECT_FLOAT_EQ(output[0][0][0][1].item<float>(), 1.0F + 1.0F / 3.0F);  // corners aligned
}

TEST(CatalogSequenceUpsample, SizeTupleWithNearestMode) {
  auto upsample = torch_test::build<torchsystem::nn::Upsample>(
      R"({"name": "Upsample", "arguments": {"size": [3, 5], "mode": "nearest"}})");
  const torch::Tensor input = torch::randn({2, 1, 2, 2});
  const torch::Tensor output = upsample->forward(input);
  EXPECT_EQ(output.sizes(), (std::vector<int64_t>{2, 1, 3, 5}));
  EXPECT_TRUE(torch::equal(
      output, F::interpolate(input, F::InterpolateFuncOptions().size(std::vector<int64_t>{3, 5}))));
}

TEST(CatalogSequenceUpsample, SingleValueAppliesToEverySpatialDimensionAsInPyTorch) {
  // PyTorch's most common call, Upsample(scale_factor=2) with mode "nearest", on 1, 2 and 3 spatial dims.
  auto nearest = torch_test::build<torchsystem::nn::Upsample>(
      R"({"name": "Upsample", "arguments": {"scale_factor": 2}})");
  EXPECT_EQ(nearest->forward(torch::randn({1, 2, 3})).sizes(), (std::vector<int64_t>{1, 2, 6}));
  const torch::Tensor image = torch::randn({1, 3, 2, 3});
  EXPECT_TRUE(torch::equal(nearest->forward(image), image.repeat_interleave(2, 2).repeat_interleave(2, 3)));
  EXPECT_EQ(nearest->forward(torch::randn({1, 1, 2, 3, 4})).sizes(), (std::vector<int64_t>{1, 1, 4, 6, 8}));
  auto sized =
      torch_test::build<torchsystem::nn::Upsample>(R"({"name": "Upsample", "arguments": {"size": 4}})");
  EXPECT_EQ(sized->forward(torch::randn({2, 1, 2, 3})).sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
  auto linear = torch_test::build<torchsystem::nn::Upsample>(
      R"({"name": "Upsample", "arguments": {"size": 7, "mode": "linear", "align_corners": false}})");
  EXPECT_EQ(linear->forward(torch::randn({1, 2, 3})).sizes(), (std::vector<int64_t>{1, 2, 7}));
}

TEST(CatalogSequenceUpsample, RecomputeScaleFactorReachesInterpolate) {
  auto upsample = torch_test::build<torchsystem::nn::Upsample>(
      R"({"name": "Upsample", "arguments": {"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": true}})");
  const auto x = torch::randn({1, 2, 5, 5});
  auto options =
      F::InterpolateFuncOptions().scale_factor(std::vector<double>{1.7, 1.7}).mode(torch::kBilinear);
  const auto recomputed = F::interpolate(x, options.align_corners(false).recompute_scale_factor(true));
  EXPECT_TRUE(torch::equal(upsample(x), recomputed));
  EXPECT_FALSE(torch::allclose(recomputed, F::interpolate(x, options.recompute_scale_factor(false))));
}

TEST(CatalogSequenceUpsample, RefusesWhatCannotBeHonoured) {
  expect_contains(
      torch_test::build_error(R"({"name": "Upsample", "arguments": {"scale_factor": 2.0, "mode": "area"}})"),
      {"Upsample.mode", R"(one of "nearest", "linear", "bilinear", "bicubic", "trilinear")",
       R"(got "area")"});
  expect_contains(
      torch_test::build_error(R"({"name": "Upsample", "arguments": {"size": 4, "scale_factor": 2.0}})"),
      {"Upsample.scale_factor", "only one of size and scale_factor"});
  // A tuple that does not match the input's spatial dimensions fails at forward, as in PyTorch.
  auto pair =
      torch_test::build<torchsystem::nn::Upsample>(R"({"name": "Upsample", "arguments": {"size": [4, 4]}})");
  EXPECT_THROW(pair->forward(torch::randn({1, 1, 2, 2, 2})), c10::Error);
}

}  // namespace
