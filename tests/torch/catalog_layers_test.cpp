// The catalog's layers: each type built from a configuration with non-default arguments, used, and
// compared with the same module built directly with LibTorch's options (weights copied in) or with the
// functional form; the parameters LibTorch cannot honour refuse non-default values.
#include <gtest/gtest.h>
#include <torch/nn.h>

#include <string>
#include <string_view>
#include <vector>

#include "torch_test_support.hpp"
#include "torchsystem/torch/transformer.hpp"

namespace {

namespace ts = torchsystem;
namespace F = torch::nn::functional;
using Shape = std::vector<std::int64_t>;

Shape shape(const torch::Tensor& tensor) {
  return tensor.sizes().vec();
}

// ------------------------------------------------------------------------------------------------
// Linear layers

TEST(CatalogLayersLinear, LinearWithoutBiasMatchesFunctional) {
  auto linear = torch_test::build<torch::nn::Linear>(
      R"({"name": "Linear", "arguments": {"in_features": 4, "out_features": 3, "bias": false}})");
  EXPECT_FALSE(linear->bias.defined());
  const auto x = torch::randn({2, 4});
  EXPECT_EQ(shape(linear(x)), (Shape{2, 3}));
  EXPECT_TRUE(torch::allclose(linear(x), F::linear(x, linear->weight)));
}

TEST(CatalogLayersLinear, BilinearWithoutBiasMatchesFunctional) {
  auto bilinear = torch_test::build<torch::nn::Bilinear>(
      R"({"name": "Bilinear", "arguments": {"in1_features": 3, "in2_features": 4, "out_features": 2,
          "bias": false}})");
  EXPECT_FALSE(bilinear->bias.defined());
  EXPECT_EQ(shape(bilinear->weight), (Shape{2, 3, 4}));
  const auto x1 = torch::randn({5, 3});
  const auto x2 = torch::randn({5, 4});
  const auto y = bilinear(x1, x2);
  EXPECT_EQ(shape(y), (Shape{5, 2}));
  EXPECT_TRUE(torch::allclose(y, F::bilinear(x1, x2, bilinear->weight)));
}

TEST(CatalogLayersLinear, BilinearPositionalCallKeepsPyTorchOrder) {
  auto built = ts::torch_catalog().modules.get("Bilinear")(3, 4, 2, false);
  auto bilinear = std::dynamic_pointer_cast<torch::nn::BilinearImpl>(built);
  ASSERT_TRUE(bilinear);
  EXPECT_EQ(bilinear->options.in1_features(), 3);
  EXPECT_EQ(bilinear->options.in2_features(), 4);
  EXPECT_EQ(bilinear->options.out_features(), 2);
  EXPECT_FALSE(bilinear->options.bias());
}

// ------------------------------------------------------------------------------------------------
// Convolutions

TEST(CatalogLayersConv, Conv1dMatchesLibTorchWithCircularPadding) {
  auto conv = torch_test::build<torch::nn::Conv1d>(
      R"({"name": "Conv1d", "arguments": {"in_channels": 2, "out_channels": 4, "kernel_size": 3, "stride": 2,
          "padding": 1, "dilation": 1, "groups": 2, "bias": false, "padding_mode": "circular"}})");
  torch::nn::Conv1d direct(
      torch::nn::Conv1dOptions(2, 4, 3).stride(2).padding(1).groups(2).bias(false).padding_mode(
          torch::kCircular));
  torch_test::copy_parameters(*conv, *direct);
  const auto x = torch::randn({1, 2, 7});
  const auto y = conv(x);
  EXPECT_EQ(shape(y), (Shape{1, 4, 4}));
  EXPECT_TRUE(torch::allclose(y, direct(x)));
  // Zero padding gives another result: the padding mode did reach LibTorch.
  const auto zeros = F::conv1d(x, conv->weight, F::Conv1dFuncOptions().stride(2).padding(1).groups(2));
  EXPECT_FALSE(torch::allclose(y, zeros));
}

TEST(CatalogLayersConv, Conv2dSamePaddingWithTupleKernelAndDilation) {
  auto conv = torch_test::build<torch::nn::Conv2d>(
      R"({"name": "Conv2d", "arguments": {"in_channels": 2, "out_channels": 3, "kernel_size": [3, 2],
          "padding": "same", "dilation": [2, 1]}})");
  const auto x = torch::randn({1, 2, 6, 5});
  const auto y = conv(x);
  EXPECT_EQ(shape(y), (Shape{1, 3, 6, 5}));
  // PyTorch's "same": height padding 2 * (3 - 1) = 4 split 2 + 2, width 1 * (2 - 1) = 1 split 0 + 1.
  const auto padded = F::pad(x, F::PadFuncOptions({0, 1, 2, 2}));
  const auto expected =
      F::conv2d(padded, conv->weight, F::Conv2dFuncOptions().bias(conv->bias).dilation({2, 1}));
  EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-6));
}

TEST(CatalogLayersConv, Conv2dSamePaddingWithReflectPadsEachDimensionAsPyTorch) {
  // LibTorch 1.13's own "same" would pad the height by 2 and the width by 1 here (dimensions swapped).
  auto conv = torch_test::build<torch::nn::Conv2d>(
      R"({"name": "Conv2d", "arguments": {"in_channels": 2, "out_channels": 3, "kernel_size": [3, 5],
          "padding": "same", "padding_mode": "reflect"}})");
  const auto x = torch::randn({1, 2, 6, 5});
  const auto y = conv(x);
  EXPECT_EQ(shape(y), (Shape{1, 3, 6, 5}));
  const auto padded = F::pad(x, F::PadFuncOptions({2, 2, 1, 1}).mode(torch::kReflect));
  EXPECT_TRUE(torch::allclose(y, F::conv2d(padded, conv->weight, F::Conv2dFuncOptions().bias(conv->bias)),
                              1e-5, 1e-6));
}

TEST(CatalogLayersConv, Conv2dSamePaddingWithUnevenDifferingPaddingIsRefused) {
  EXPECT_EQ(
      torch_test::build_error(R"({"name": "Conv2d", "arguments": {"in_channels": 1, "out_channels": 1,
                           "kernel_size": [3, 2], "padding": "same", "padding_mode": "circular"}})"),
      R"(Conv2d.padding: padding "same" with padding_mode "circular" needs uneven padding that differs )"
      R"(between dimensions here, which LibTorch 1.13 applies to the wrong dimensions; use padding_mode )"
      R"("zeros", or kernel sizes and dilations giving every dimension an even dilation * (kernel_size - 1))");
  // As in PyTorch, "same" is refused for strided convolutions, whatever the padding mode.
  EXPECT_EQ(torch_test::build_error(R"({"name": "Conv2d", "arguments": {"in_channels": 1, "out_channels": 1,
                           "kernel_size": 3, "stride": [1, 2], "padding": "same", "padding_mode": "reflect"}})"),
            R"(Conv2d.padding: padding "same" is not supported for strided convolutions)");
  EXPECT_EQ(torch_test::build_error(R"({"name": "Conv1d", "arguments": {"in_channels": 1, "out_channels": 1,
                           "kernel_size": 3, "stride": 2, "padding": "same"}})"),
            R"(Conv1d.padding: padding "same" is not supported for strided convolutions)");
  // One dimension, or the same uneven padding in every dimension, is padded as PyTorch pads it.
  auto conv1d = torch_test::build<torch::nn::Conv1d>(
      R"({"name": "Conv1d", "arguments": {"in_channels": 1, "out_channels": 1, "kernel_size": 4,
          "padding": "same", "padding_mode": "replicate"}})");
  const auto x = torch::randn({1, 1, 6});
  const auto padded = F::pad(x, F::PadFuncOptions({1, 2}).mode(torch::kReplicate));
  EXPECT_TRUE(torch::allclose(
      conv1d(x), F::conv1d(padded, conv1d->weight, F::Conv1dFuncOptions().bias(conv1d->bias)), 1e-5, 1e-6));
  auto square = torch_test::build<torch::nn::Conv2d>(
      R"({"name": "Conv2d", "arguments": {"in_channels": 1, "out_channels": 1, "kernel_size": 2,
          "padding": "same", "padding_mode": "circular"}})");
  EXPECT_EQ(shape(square(torch::randn({1, 1, 4, 3}))), (Shape{1, 1, 4, 3}));
}

TEST(CatalogLayersConv, Conv2dValidPadding) {
  auto conv = torch_test::build<torch::nn::Conv2d>(
      R"({"name": "Conv2d", "arguments": {"in_channels": 2, "out_channels": 3, "kernel_size": 3,
          "padding": "valid"}})");
  EXPECT_NE(c10::get_if<torch::enumtype::kValid>(&conv->options.padding()), nullptr);
  const auto x = torch::randn({1, 2, 6, 5});
  const auto y = conv(x);
  EXPECT_EQ(shape(y), (Shape{1, 3, 4, 3}));
  EXPECT_TRUE(torch::allclose(y, F::conv2d(x, conv->weight, F::Conv2dFuncOptions().bias(conv->bias))));
}

TEST(CatalogLayersConv, Conv3dMatchesLibTorchWithReplicatePadding) {
  auto conv = torch_test::build<torch::nn::Conv3d>(
      R"({"name": "Conv3d", "arguments": {"in_channels": 2, "out_channels": 2, "kernel_size": 2,
          "stride": [1, 2, 1], "padding": [1, 0, 1], "padding_mode": "replicate"}})");
  torch::nn::Conv3d direct(
      torch::nn::Conv3dOptions(2, 2, 2).stride({1, 2, 1}).padding({1, 0, 1}).padding_mode(torch::kReplicate));
  torch_test::copy_parameters(*conv, *direct);
  const auto x = torch::randn({1, 2, 4, 4, 4});
  EXPECT_EQ(shape(conv(x)), (Shape{1, 2, 5, 2, 5}));
  EXPECT_TRUE(torch::allclose(conv(x), direct(x)));
}

TEST(CatalogLayersConv, ConvTranspose1dMatchesFunctional) {
  auto conv = torch_test::build<torch::nn::ConvTranspose1d>(
      R"({"name": "ConvTranspose1d", "arguments": {"in_channels": 2, "out_channels": 3, "kernel_size": 3,
          "stride": 2, "padding": 1, "output_padding": 1, "bias": false}})");
  const auto x = torch::randn({1, 2, 4});
  const auto y = conv(x);
  EXPECT_EQ(shape(y), (Shape{1, 3, 8}));
  EXPECT_TRUE(torch::allclose(
      y, F::conv_transpose1d(x, conv->weight,
                             F::ConvTranspose1dFuncOptions().stride(2).padding(1).output_padding(1))));
}

TEST(CatalogLayersConv, ConvTranspose2dWithGroupsAndDilationMatchesFunctional) {
  auto conv = torch_test::build<torch::nn::ConvTranspose2d>(
      R"({"name": "ConvTranspose2d", "arguments": {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 2],
          "stride": [2, 1], "padding": [1, 0], "output_padding": [1, 0], "groups": 2, "dilation": [1, 2]}})");
  const auto x = torch::randn({1, 4, 3, 3});
  const auto y = conv(x);
  EXPECT_EQ(shape(y), (Shape{1, 6, 6, 5}));
  const auto expected = F::conv_transpose2d(x, conv->weight,
                                            F::ConvTranspose2dFuncOptions()
                                                .bias(conv->bias)
                                                .stride({2, 1})
                                                .padding({1, 0})
                                                .output_padding({1, 0})
                                                .groups(2)
                                                .dilation({1, 2}));
  EXPECT_TRUE(torch::allclose(y, expected));
}

TEST(CatalogLayersConv, ConvTransposePositionalCallPutsGroupsBeforeDilation) {
  auto built = ts::torch_catalog().modules.get("ConvTranspose2d")(4, 6, 3, 1, 0, 0, 2, false, 3);
  auto conv = std::dynamic_pointer_cast<torch::nn::ConvTranspose2dImpl>(built);
  ASSERT_TRUE(conv);
  EXPECT_EQ(conv->options.groups(), 2);
  EXPECT_FALSE(conv->options.bias());
  EXPECT_EQ(conv->options.dilation()->at(0), 3);
  EXPECT_EQ(
      ts::getarguments(built),
      ts::parse_json(R"({"in_channels": 4, "out_channels": 6, "kernel_size": 3, "stride": 1, "padding": 0,
                              "output_padding": 0, "groups": 2, "bias": false, "dilation": 3})"));
}

TEST(CatalogLayersConv, RefusedPaddingModesAndPaddings) {
  EXPECT_EQ(
      torch_test::build_error(R"({"name": "Conv2d", "arguments": {"in_channels": 1, "out_channels": 1,
                           "kernel_size": 3, "padding_mode": "mirror"}})"),
      R"(Conv2d.padding_mode: expected one of "zeros", "reflect", "replicate", "circular", got "mirror")");
  // PyTorch's transposed convolutions raise ValueError for any padding mode but "zeros".
  EXPECT_EQ(torch_test::build_error(
                R"({"name": "ConvTranspose2d", "arguments": {"in_channels": 1, "out_channels": 1,
                           "kernel_size": 3, "padding_mode": "reflect"}})"),
            R"(ConvTranspose2d.padding_mode: expected one of "zeros", got "reflect")");
  EXPECT_EQ(torch_test::build_error(
                R"({"name": "ConvTranspose1d", "arguments": {"in_channels": 1, "out_channels": 1,
                           "kernel_size": 3, "padding_mode": "circular"}})"),
            R"(ConvTranspose1d.padding_mode: expected one of "zeros", got "circular")");
  EXPECT_NE(torch_test::build_error(R"({"name": "Conv1d", "arguments": {"in_channels": 1, "out_channels": 1,
                           "kernel_size": 3, "padding": "full"}})")
                .find("Conv1d.padding: expected int"),
            std::string::npos);
  EXPECT_NE(torch_test::build_error(R"({"name": "Conv3d", "arguments": {"in_channels": 1, "out_channels": 1,
                           "kernel_size": [3, 3]}})")
                .find("Conv3d.kernel_size: expected int or tuple of 3 ints"),
            std::string::npos);
}

// ------------------------------------------------------------------------------------------------
// Pooling

TEST(CatalogLayersPooling, MaxPool1dStrideDefaultsToKernelSize) {
  auto pool = torch_test::build<torch::nn::MaxPool1d>(
      R"({"name": "MaxPool1d", "arguments": {"kernel_size": 3, "padding": 1, "ceil_mode": true}})");
  EXPECT_EQ(pool->options.stride()->at(0), 3);
  const auto x = torch::randn({1, 2, 8});
  EXPECT_TRUE(torch::equal(
      pool(x), F::max_pool1d(x, F::MaxPool1dFuncOptions(3).stride(3).padding(1).ceil_mode(true))));
  // An explicit None is recorded as given and still means kernel_size.
  auto explicit_none = torch_test::build<torch::nn::MaxPool1d>(
      R"({"name": "MaxPool1d", "arguments": {"kernel_size": 2, "stride": null}})");
  EXPECT_EQ(explicit_none->options.stride()->at(0), 2);
  EXPECT_EQ(shape(explicit_none(x)), (Shape{1, 2, 4}));
}

TEST(CatalogLayersPooling, MaxPool2dMatchesFunctional) {
  auto pool = torch_test::build<torch::nn::MaxPool2d>(
      R"({"name": "MaxPool2d", "arguments": {"kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 1],
          "dilation": [2, 1], "return_indices": false, "ceil_mode": false}})");
  const auto x = torch::randn({1, 1, 5, 6});
  const auto expected =
      F::max_pool2d(x, F::MaxPool2dFuncOptions({2, 3}).stride({1, 2}).padding({1, 1}).dilation({2, 1}));
  EXPECT_EQ(shape(pool(x)), shape(expected));
  EXPECT_TRUE(torch::equal(pool(x), expected));
}

TEST(CatalogLayersPooling, MaxPoolPositionalCallPutsReturnIndicesBeforeCeilMode) {
  auto built = ts::torch_catalog().modules.get("MaxPool2d")(2, nullptr, 0, 1, false, true);
  auto pool = std::dynamic_pointer_cast<torch::nn::MaxPool2dImpl>(built);
  ASSERT_TRUE(pool);
  EXPECT_TRUE(pool->options.ceil_mode());
  EXPECT_EQ(pool->options.stride()->at(1), 2);
}

TEST(CatalogLayersPooling, AvgPool1dAsDocumentedAndWithOptions) {
  auto documented = torch_test::build<torch::nn::AvgPool1d>(
      R"({"name": "AvgPool1d", "arguments": {"kernel_size": 3, "stride": 2}})");
  const auto x = torch::tensor({1.F, 2.F, 3.F, 4.F, 5.F, 6.F, 7.F}).reshape({1, 1, 7});
  EXPECT_TRUE(torch::equal(documented(x), torch::tensor({2.F, 4.F, 6.F}).reshape({1, 1, 3})));

  auto pool = torch_test::build<torch::nn::AvgPool1d>(
      R"({"name": "AvgPool1d", "arguments": {"kernel_size": [3], "stride": 2, "padding": 1, "ceil_mode": true,
          "count_include_pad": false}})");
  const auto expected = F::avg_pool1d(
      x, F::AvgPool1dFuncOptions(3).stride(2).padding(1).ceil_mode(true).count_include_pad(false));
  EXPECT_TRUE(torch::allclose(pool(x), expected));
  // Without the padding in the average, the first window averages 1 and 2 only.
  EXPECT_FLOAT_EQ(pool(x)[0][0][0].item<float>(), 1.5F);
}

TEST(CatalogLayersPooling, AvgPool2dDivisorOverrideSumsWindows) {
  auto pool = torch_test::build<torch::nn::AvgPool2d>(
      R"({"name": "AvgPool2d", "arguments": {"kernel_size": 2, "divisor_override": 1}})");
  EXPECT_EQ(pool->options.stride()->at(0), 2);
  const auto x = torch::randn({1, 1, 4, 4});
  const auto y = pool(x);
  EXPECT_EQ(shape(y), (Shape{1, 1, 2, 2}));
  EXPECT_TRUE(torch::allclose(y, 4 * F::avg_pool2d(x, F::AvgPool2dFuncOptions(2))));
}

TEST(CatalogLayersPooling, AvgPool2dPositionalCallPutsDivisorOverrideLast) {
  auto built = ts::torch_catalog().modules.get("AvgPool2d")(2, 1, 0, false, false, 3);
  auto pool = std::dynamic_pointer_cast<torch::nn::AvgPool2dImpl>(built);
  ASSERT_TRUE(pool);
  EXPECT_FALSE(pool->options.count_include_pad());
  ASSERT_TRUE(pool->options.divisor_override().has_value());
  EXPECT_EQ(*pool->options.divisor_override(), 3);
  EXPECT_EQ(pool->options.stride()->at(0), 1);
}

TEST(CatalogLayersPooling, AdaptiveAvgPool1dIntOrOneTuple) {
  const auto x = torch::tensor({1.F, 2.F, 3.F, 4.F}).reshape({1, 1, 4});
  const auto expected = torch::tensor({1.5F, 3.5F}).reshape({1, 1, 2});
  auto from_int = torch_test::build<torch::nn::AdaptiveAvgPool1d>(
      R"({"name": "AdaptiveAvgPool1d", "arguments": {"output_size": 2}})");
  auto from_tuple = torch_test::build<torch::nn::AdaptiveAvgPool1d>(
      R"({"name": "AdaptiveAvgPool1d", "arguments": {"output_size": [2]}})");
  EXPECT_TRUE(torch::allclose(from_int(x), expected));
  EXPECT_TRUE(torch::allclose(from_tuple(x), expected));
}

TEST(CatalogLayersPooling, AdaptiveAvgPool2dNoneKeepsInputSize) {
  const auto x = torch::randn({1, 2, 3, 4});
  auto pool = torch_test::build<torch::nn::AdaptiveAvgPool2d>(
      R"({"name": "AdaptiveAvgPool2d", "arguments": {"output_size": [null, 2]}})");
  EXPECT_EQ(shape(pool(x)), (Shape{1, 2, 3, 2}));
  EXPECT_TRUE(torch::allclose(pool(x), F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions({3, 2}))));
  auto square = torch_test::build<torch::nn::AdaptiveAvgPool2d>(
      R"({"name": "AdaptiveAvgPool2d", "arguments": {"output_size": 2}})");
  EXPECT_EQ(shape(square(x)), (Shape{1, 2, 2, 2}));
  auto both_none = torch_test::build<torch::nn::AdaptiveAvgPool2d>(
      R"({"name": "AdaptiveAvgPool2d", "arguments": {"output_size": null}})");
  EXPECT_TRUE(torch::allclose(both_none(x), x));
  EXPECT_EQ(
      torch_test::build_error(R"({"name": "AdaptiveAvgPool2d", "arguments": {"output_size": [1, 2, 3]}})"),
      "AdaptiveAvgPool2d.output_size: expected int or tuple of 2 ints, got [1, 2, 3]");
  EXPECT_EQ(
      torch_test::build_error(R"({"name": "AdaptiveMaxPool2d", "arguments": {"output_size": [1, "x"]}})"),
      R"(AdaptiveMaxPool2d.output_size: expected int or tuple of 2 ints, got "x")");
}

TEST(CatalogLayersPooling, AdaptiveMaxPool2dMatchesFunctional) {
  auto pool = torch_test::build<torch::nn::AdaptiveMaxPool2d>(
      R"({"name": "AdaptiveMaxPool2d", "arguments": {"output_size": [2, null], "return_indices": false}})");
  const auto x = torch::randn({1, 2, 4, 3});
  EXPECT_EQ(shape(pool(x)), (Shape{1, 2, 2, 3}));
  EXPECT_TRUE(torch::equal(pool(x), F::adaptive_max_pool2d(x, F::AdaptiveMaxPool2dFuncOptions({2, 3}))));
}

TEST(CatalogLayersPooling, ReturnIndicesIsRefused) {
  const std::string reason =
      ": LibTorch 1.13's forward() returns only the output; only PyTorch's default false is accepted, got "
      "true "
      "(call forward_with_indices() for the indices)";
  EXPECT_EQ(torch_test::build_error(
                R"({"name": "MaxPool1d", "arguments": {"kernel_size": 2, "return_indices": true}})"),
            "MaxPool1d.return_indices" + reason);
  EXPECT_EQ(torch_test::build_error(
                R"({"name": "MaxPool2d", "arguments": {"kernel_size": 2, "return_indices": true}})"),
            "MaxPool2d.return_indices" + reason);
  EXPECT_EQ(torch_test::build_error(
                R"({"name": "AdaptiveMaxPool2d", "arguments": {"output_size": 2, "return_indices": true}})"),
            "AdaptiveMaxPool2d.return_indices" + reason);
}

// ------------------------------------------------------------------------------------------------
// Normalization

TEST(CatalogLayersNorm, BatchNorm1dMomentumNoneIsACumulativeAverage) {
  auto norm = torch_test::build<torch::nn::BatchNorm1d>(
      R"({"name": "BatchNorm1d", "arguments": {"num_features": 3, "eps": 0.001, "momentum": null,
          "affine": false, "track_running_stats": true}})");
  EXPECT_FALSE(norm->options.momentum().has_value());
  EXPECT_TRUE(norm->parameters().empty());
  const auto first = torch::randn({4, 3});
  const auto second = torch::randn({4, 3}) + 2;
  norm->train();
  norm(first);
  norm(second);
  EXPECT_TRUE(torch::allclose(norm->running_mean, (first.mean(0) + second.mean(0)) / 2, 1e-5, 1e-6));
}

TEST(CatalogLayersNorm, BatchNorm2dMomentumAndEps) {
  auto norm = torch_test::build<torch::nn::BatchNorm2d>(
      R"({"name": "BatchNorm2d", "arguments": {"num_features": 2, "eps": 0.01, "momentum": 0.5}})");
  const auto x = torch::randn({3, 2, 2, 2});
  norm->train();
  const auto y = norm(x);
  const auto mean = x.mean({0, 2, 3}, true);
  const auto variance = x.var({0, 2, 3}, false, true);
  EXPECT_TRUE(torch::allclose(y, (x - mean) / torch::sqrt(variance + 0.01), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(norm->running_mean, 0.5 * mean.flatten(), 1e-5, 1e-6));
}

TEST(CatalogLayersNorm, BatchNorm3dWithoutRunningStatsUsesBatchStatistics) {
  auto norm = torch_test::build<torch::nn::BatchNorm3d>(
      R"({"name": "BatchNorm3d", "arguments": {"num_features": 2, "affine": false,
          "track_running_stats": false}})");
  EXPECT_FALSE(norm->running_mean.defined());
  EXPECT_TRUE(norm->parameters().empty());
  norm->eval();
  const auto x = torch::randn({2, 2, 2, 2, 2}) * 3 + 1;
  const auto y = norm(x);
  EXPECT_TRUE(torch::allclose(y.mean({0, 2, 3, 4}), torch::zeros({2}), 0, 1e-5));
}

TEST(CatalogLayersNorm, LayerNormListOrInt) {
  auto norm = torch_test::build<torchsystem::nn::LayerNorm>(
      R"({"name": "LayerNorm", "arguments": {"normalized_shape": [2, 3], "eps": 0.001,
          "elementwise_affine": false, "bias": true}})");
  EXPECT_TRUE(norm->parameters().empty());
  const auto x = torch::randn({4, 2, 3});
  EXPECT_TRUE(torch::allclose(norm(x), F::layer_norm(x, F::LayerNormFuncOptions({2, 3}).eps(0.001))));
  auto last = torch_test::build<torchsystem::nn::LayerNorm>(
      R"({"name": "LayerNorm", "arguments": {"normalized_shape": 3}})");
  EXPECT_EQ(last->options.normalized_shape(), (Shape{3}));
  EXPECT_EQ(shape(last->weight), (Shape{3}));
  EXPECT_TRUE(torch::allclose(last(x), F::layer_norm(x, F::LayerNormFuncOptions({3})), 1e-5, 1e-6));
}

// PyTorch >= 2.1: bias=False keeps the weight and drops the bias.
TEST(CatalogLayersNorm, LayerNormWithoutBias) {
  auto norm = torch_test::build<torchsystem::nn::LayerNorm>(
      R"({"name": "LayerNorm", "arguments": {"normalized_shape": 4, "eps": 0.01, "bias": false}})");
  ASSERT_EQ(norm->named_parameters().keys(), (std::vector<std::string>{"weight"}));
  EXPECT_FALSE(norm->bias.defined());
  {
    torch::NoGradGuard no_grad;
    norm->weight.copy_(torch::tensor({0.5F, -1.0F, 2.0F, 3.0F}));
  }
  const auto x = torch::randn({3, 4});
  EXPECT_TRUE(torch::allclose(
      norm(x), F::layer_norm(x, F::LayerNormFuncOptions({4}).eps(0.01).weight(norm->weight)), 1e-5, 1e-6));
  auto neither = torch_test::build<torchsystem::nn::LayerNorm>(
      R"({"name": "LayerNorm", "arguments": {"normalized_shape": 4, "elementwise_affine": false, "bias": false}})");
  EXPECT_TRUE(neither->named_parameters().is_empty());
}

TEST(CatalogLayersNorm, GroupNormMatchesFunctional) {
  auto norm = torch_test::build<torch::nn::GroupNorm>(
      R"({"name": "GroupNorm", "arguments": {"num_groups": 2, "num_channels": 4, "eps": 0.001, "affine": false}})");
  EXPECT_TRUE(norm->parameters().empty());
  const auto x = torch::randn({2, 4, 3});
  EXPECT_TRUE(torch::allclose(norm(x), F::group_norm(x, F::GroupNormFuncOptions(2).eps(0.001))));
}

TEST(CatalogLayersNorm, InstanceNorm1dMomentumNoneLeavesRunningStats) {
  // PyTorch passes momentum=None to instance_norm as 0.0: the running statistics stay as they start.
  auto norm = torch_test::build<torch::nn::InstanceNorm1d>(
      R"({"name": "InstanceNorm1d", "arguments": {"num_features": 3, "momentum": null, "affine": true,
          "track_running_stats": true}})");
  EXPECT_EQ(norm->options.momentum(), 0.0);
  EXPECT_EQ(shape(norm->weight), (Shape{3}));
  norm->train();
  const auto x = torch::randn({2, 3, 5}) + 4;
  const auto y = norm(x);
  EXPECT_TRUE(torch::allclose(norm->running_mean, torch::zeros({3})));
  EXPECT_TRUE(torch::allclose(norm->running_var, torch::ones({3})));
  EXPECT_TRUE(torch::allclose(y.mean(2), torch::zeros({2, 3}), 0, 1e-5));
}

TEST(CatalogLayersNorm, InstanceNorm2dMomentumAndEps) {
  auto norm = torch_test::build<torch::nn::InstanceNorm2d>(
      R"({"name": "InstanceNorm2d", "arguments": {"num_features": 2, "eps": 0.001, "momentum": 0.3,
          "track_running_stats": true}})");
  EXPECT_TRUE(norm->parameters().empty());
  norm->train();
  const auto x = torch::randn({2, 2, 3, 3}) + 1;
  const auto y = norm(x);
  EXPECT_TRUE(torch::allclose(y, F::instance_norm(x, F::InstanceNormFuncOptions().eps(0.001)), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(norm->running_mean, 0.3 * x.mean({2, 3}).mean(0), 1e-5, 1e-6));
}

// ------------------------------------------------------------------------------------------------
// Dropout

TEST(CatalogLayersDropout, DropoutProbabilityAndInplace) {
  auto all = torch_test::build<torch::nn::Dropout>(R"({"name": "Dropout", "arguments": {"p": 1.0}})");
  const auto x = torch::randn({4, 5});
  all->train();
  EXPECT_TRUE(torch::equal(all(x), torch::zeros({4, 5})));
  all->eval();
  EXPECT_TRUE(torch::equal(all(x), x));

  auto inplace = torch_test::build<torch::nn::Dropout>(
      R"({"name": "Dropout", "arguments": {"p": 0.3, "inplace": true}})");
  inplace->train();
  auto input = x.clone();
  torch::manual_seed(7);
  const auto y = inplace(input);
  torch::manual_seed(7);
  EXPECT_TRUE(torch::equal(y, F::dropout(x, F::DropoutFuncOptions().p(0.3).training(true))));
  EXPECT_TRUE(torch::equal(input, y));  // the input itself was changed
}

TEST(CatalogLayersDropout, Dropout2dZeroesWholeChannels) {
  auto dropout = torch_test::build<torch::nn::Dropout2d>(R"({"name": "Dropout2d", "arguments": {"p": 0.5}})");
  dropout->train();
  const auto x = torch::rand({4, 6, 3, 3}) + 1;  // no zero in the input
  torch::manual_seed(3);
  const auto y = dropout(x);
  torch::manual_seed(3);
  EXPECT_TRUE(torch::equal(y, F::dropout2d(x, F::Dropout2dFuncOptions().p(0.5).training(true))));
  const auto zeros_per_channel = (y == 0).sum({2, 3});
  EXPECT_TRUE(((zeros_per_channel == 0) | (zeros_per_channel == 9)).all().item<bool>());
  EXPECT_TRUE((zeros_per_channel == 9).any().item<bool>());
}

TEST(CatalogLayersDropout, AlphaDropoutMatchesFunctional) {
  auto dropout = torch_test::build<torch::nn::AlphaDropout>(
      R"({"name": "AlphaDropout", "arguments": {"p": 0.2, "inplace": false}})");
  const auto x = torch::randn({8, 8});
  dropout->train();
  torch::manual_seed(11);
  const auto y = dropout(x);
  torch::manual_seed(11);
  EXPECT_TRUE(torch::equal(y, F::alpha_dropout(x, F::AlphaDropoutFuncOptions().p(0.2).training(true))));
  EXPECT_FALSE(torch::equal(y, x));
  dropout->eval();
  EXPECT_TRUE(torch::equal(dropout(x), x));
}

// ------------------------------------------------------------------------------------------------
// Embeddings

TEST(CatalogLayersEmbedding, EmbeddingWithWeightMaxNormAndSparseGradient) {
  auto embedding = torch_test::build<torch::nn::Embedding>(
      R"({"name": "Embedding", "arguments": {"num_embeddings": 4, "embedding_dim": 2, "padding_idx": 1,
          "max_norm": 1.0, "norm_type": 2.0, "scale_grad_by_freq": false, "sparse": true,
          "_weight": [[3.0, 4.0], [1.0, 1.0], [0.0, 0.5], [0.25, 0.0]], "_freeze": false}})");
  EXPECT_TRUE(torch::equal(embedding->weight[1], torch::tensor({1.F, 1.F})));  // the given weight, kept
  EXPECT_TRUE(embedding->weight.requires_grad());
  const auto y = embedding(torch::tensor({0, 2, 2}, torch::kLong));
  // Row 0 (norm 5) is renormalized to norm 1; row 2 (norm 0.5) is left as it is.
  EXPECT_TRUE(torch::allclose(y, torch::tensor({{0.6F, 0.8F}, {0.F, 0.5F}, {0.F, 0.5F}}), 1e-5, 1e-6));
  y.sum().backward();
  ASSERT_TRUE(embedding->weight.grad().defined());
  EXPECT_TRUE(embedding->weight.grad().is_sparse());
  EXPECT_TRUE(torch::allclose(embedding->weight.grad().to_dense()[2], torch::full({2}, 2.F)));
}

TEST(CatalogLayersEmbedding, EmbeddingScaleGradByFreq) {
  auto embedding = torch_test::build<torch::nn::Embedding>(
      R"({"name": "Embedding", "arguments": {"num_embeddings": 3, "embedding_dim": 2, "scale_grad_by_freq": true}})");
  embedding(torch::tensor({2, 2, 0}, torch::kLong)).sum().backward();
  // Index 2, seen twice, gets the gradient of one occurrence.
  EXPECT_TRUE(torch::allclose(embedding->weight.grad(), torch::tensor({{1.F, 1.F}, {0.F, 0.F}, {1.F, 1.F}})));
}

TEST(CatalogLayersEmbedding, EmbeddingNegativePaddingIndexIsZeroed) {
  auto embedding = torch_test::build<torch::nn::Embedding>(
      R"({"name": "Embedding", "arguments": {"num_embeddings": 5, "embedding_dim": 3, "padding_idx": -1}})");
  EXPECT_TRUE(torch::equal(embedding->weight[4], torch::zeros({3})));
  const auto y = embedding(torch::tensor({{4, 0}}, torch::kLong));
  EXPECT_EQ(shape(y), (Shape{1, 2, 3}));
  EXPECT_TRUE(torch::equal(y[0][1], embedding->weight[0]));
}

TEST(CatalogLayersEmbedding, EmbeddingFreezeIsRefused) {
  EXPECT_EQ(
      torch_test::build_error(R"({"name": "Embedding", "arguments": {"num_embeddings": 4, "embedding_dim": 2,
                           "_freeze": true}})"),
      "Embedding._freeze: LibTorch 1.13 has no equivalent of this parameter; only PyTorch's default false is "
      "accepted, got true");
}

TEST(CatalogLayersEmbedding, EmbeddingBagMaxWithLastOffsetMatchesFunctional) {
  auto bag = torch_test::build<torch::nn::EmbeddingBag>(
      R"({"name": "EmbeddingBag", "arguments": {"num_embeddings": 6, "embedding_dim": 2, "mode": "max",
          "include_last_offset": true, "padding_idx": 0,
          "_weight": [[9.0, 9.0], [1.0, 2.0], [3.0, 0.5], [0.5, 4.0], [2.0, 2.0], [-1.0, -2.0]]}})");
  const auto input = torch::tensor({1, 2, 0, 3, 4, 5}, torch::kLong);
  const auto offsets = torch::tensor({0, 2, 4, 6}, torch::kLong);
  const auto y = bag(input, offsets);
  EXPECT_EQ(shape(y), (Shape{3, 2}));
  const auto expected = F::embedding_bag(input, bag->weight,
                                         F::EmbeddingBagFuncOptions()
                                             .offsets(offsets)
                                             .mode(torch::kMax)
                                             .include_last_offset(true)
                                             .padding_idx(0));
  EXPECT_TRUE(torch::equal(y, expected));
  // The padding index 0 (weight 9, 9) is left out of the second bag's maximum.
  EXPECT_TRUE(torch::equal(y[1], torch::tensor({0.5F, 4.F})));
}

TEST(CatalogLayersEmbedding, EmbeddingBagSumWithPerSampleWeights) {
  auto bag = torch_test::build<torch::nn::EmbeddingBag>(
      R"({"name": "EmbeddingBag", "arguments": {"num_embeddings": 5, "embedding_dim": 3, "max_norm": null,
          "norm_type": 2.0, "scale_grad_by_freq": false, "mode": "sum"}})");
  const auto input = torch::tensor({{0, 1}, {2, 4}}, torch::kLong);
  const auto weights = torch::tensor({{1.F, 2.F}, {0.5F, -1.F}});
  const auto y = bag(input, torch::Tensor(), weights);
  const auto expected = bag->weight[0] + 2 * bag->weight[1];
  EXPECT_TRUE(torch::allclose(y[0], expected));
  EXPECT_TRUE(torch::allclose(
      y, F::embedding_bag(input, bag->weight,
                          F::EmbeddingBagFuncOptions().mode(torch::kSum).per_sample_weights(weights))));
}

TEST(CatalogLayersEmbedding, EmbeddingBagModeMustBeNamed) {
  EXPECT_EQ(torch_test::build_error(
                R"({"name": "EmbeddingBag", "arguments": {"num_embeddings": 4, "embedding_dim": 2,
                           "mode": "median"}})"),
            R"(EmbeddingBag.mode: expected one of "sum", "mean", "max", got "median")");
}

}  // namespace
