// The catalog's activation modules: each is built from a configuration through the catalog (which
// checks the recorded arguments) and used on a small tensor, against LibTorch's functional form or the
// formula in PyTorch's documentation. The refusals: parameters LibTorch lacks, and strings outside
// PyTorch's spellings.
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>

#include <cmath>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torch_test_support.hpp"
#include "torchsystem/torch/activations.hpp"

namespace {

namespace ts = torchsystem;
using namespace torchsystem::literals;

/// Values on both sides of every activation's bends (-3, -1, 0, 1, 3, 6), none exactly on them.
torch::Tensor sample() {
  return torch::linspace(-7.5, 7.5, 24).reshape({4, 6});
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(actual, expected, 1e-5, 1e-6)) << "actual\n"
                                                             << actual << "\nexpected\n"
                                                             << expected;
}

/// Runs `module` on a copy of the sample and checks whether it wrote into its input.
template <class H>
torch::Tensor run(H& module, bool expect_inplace) {
  torch::Tensor input = sample();
  const torch::Tensor before = input.clone();
  torch::Tensor output = module->forward(input);
  EXPECT_EQ(output.data_ptr() == input.data_ptr(), expect_inplace);
  EXPECT_EQ(torch::equal(input, before), !expect_inplace);
  return output;
}

TEST(CatalogActivations, ReLUInPlace) {
  auto relu = torch_test::build<torch::nn::ReLU>(R"({"name": "ReLU", "arguments": {"inplace": true}})");
  EXPECT_TRUE(relu->options.inplace());
  expect_close(run(relu, true), torch::clamp_min(sample(), 0));
}

TEST(CatalogActivations, ReLU6InPlace) {
  auto relu6 = torch_test::build<torch::nn::ReLU6>(R"({"name": "ReLU6", "arguments": {"inplace": true}})");
  expect_close(run(relu6, true), torch::clamp(sample(), 0, 6));
}

TEST(CatalogActivations, LeakyReLUSlope) {
  auto leaky = torch_test::build<torch::nn::LeakyReLU>(
      R"({"name": "LeakyReLU", "arguments": {"negative_slope": 0.2, "inplace": false}})");
  EXPECT_DOUBLE_EQ(leaky->options.negative_slope(), 0.2);
  const torch::Tensor x = sample();
  expect_close(run(leaky, false), torch::where(x >= 0, x, 0.2 * x));
}

TEST(CatalogActivations, PReLUOneWeightPerChannel) {
  auto prelu = torch_test::build<torch::nn::PReLU>(
      R"({"name": "PReLU", "arguments": {"num_parameters": 3, "init": 0.1}})");
  ASSERT_EQ(prelu->weight.sizes(), torch::IntArrayRef({3}));
  EXPECT_TRUE(torch::allclose(prelu->weight, torch::full({3}, 0.1)));
  EXPECT_EQ(ts::parameter_count(*prelu), 3);
  // A different slope per channel shows that channel c uses weight c.
  {
    torch::NoGradGuard no_grad;
    prelu->weight.copy_(torch::tensor({0.1, 0.2, 0.3}));
  }
  const torch::Tensor x = torch::linspace(-2, 2, 24).reshape({2, 3, 4});
  const torch::Tensor slope = torch::tensor({0.1, 0.2, 0.3}).reshape({1, 3, 1});
  expect_close(prelu->forward(x), torch::where(x >= 0, x, slope * x));
}

TEST(CatalogActivations, GELUTanhApproximation) {
  auto gelu = torch_test::build<torch::nn::GELU>(R"({"name": "GELU", "arguments": {"approximate": "tanh"}})");
  const torch::Tensor x = sample();
  const double c = std::sqrt(2.0 / M_PI);
  const torch::Tensor output = gelu->forward(x);
  expect_close(output, 0.5 * x * (1 + torch::tanh(c * (x + 0.044715 * x.pow(3)))));
  // The exact form differs, so the option reached LibTorch.
  EXPECT_FALSE(torch::allclose(output, torch::gelu(x, "none"), 1e-6, 1e-7));
  auto exact = torch_test::build<torch::nn::GELU>(R"({"name": "GELU"})");
  expect_close(exact->forward(x), 0.5 * x * (1 + torch::erf(x / std::sqrt(2.0))));
}

TEST(CatalogActivations, GELURefusesUnknownApproximation) {
  const std::string message =
      torch_test::build_error(R"({"name": "GELU", "arguments": {"approximate": "erf"}})");
  EXPECT_NE(message.find("GELU.approximate"), std::string::npos) << message;
  EXPECT_NE(message.find(R"(one of "none", "tanh")"), std::string::npos) << message;
  EXPECT_NE(message.find(R"(got "erf")"), std::string::npos) << message;
}

TEST(CatalogActivations, SiLU) {
  auto silu = torch_test::build<torch::nn::SiLU>(R"({"name": "SiLU", "arguments": {"inplace": false}})");
  const torch::Tensor x = sample();
  expect_close(run(silu, false), x * torch::sigmoid(x));
}

TEST(CatalogActivations, Mish) {
  auto mish = torch_test::build<torch::nn::Mish>(R"({"name": "Mish"})");
  const torch::Tensor x = sample();
  expect_close(run(mish, false), x * torch::tanh(torch::log1p(torch::exp(x))));
}

TEST(CatalogActivations, InplaceLibTorchLacksIsRefused) {
  for (const std::string name : {"SiLU", "Mish"}) {
    const std::string message =
        torch_test::build_error(R"({"name": ")" + name + R"(", "arguments": {"inplace": true}})");
    EXPECT_NE(message.find(name + ".inplace"), std::string::npos) << message;
    EXPECT_NE(message.find("only PyTorch's default false"), std::string::npos) << message;
  }
}

TEST(CatalogActivations, ParameterlessModules) {
  const torch::Tensor x = sample();
  auto tanh = torch_test::build<torch::nn::Tanh>(R"({"name": "Tanh"})");
  expect_close(tanh->forward(x), (torch::exp(x) - torch::exp(-x)) / (torch::exp(x) + torch::exp(-x)));
  auto sigmoid = torch_test::build<torch::nn::Sigmoid>(R"({"name": "Sigmoid", "arguments": {}})");
  expect_close(sigmoid->forward(x), 1 / (1 + torch::exp(-x)));
  auto softsign = torch_test::build<torch::nn::Softsign>(R"({"name": "Softsign"})");
  expect_close(softsign->forward(x), x / (1 + torch::abs(x)));
  auto tanhshrink = torch_test::build<torch::nn::Tanhshrink>(R"({"name": "Tanhshrink"})");
  expect_close(tanhshrink->forward(x), x - torch::tanh(x));
}

TEST(CatalogActivations, SoftmaxAlongDim) {
  auto softmax =
      torch_test::build<torchsystem::nn::Softmax>(R"({"name": "Softmax", "arguments": {"dim": 0}})");
  EXPECT_EQ(softmax->options.dim(), 0);
  const torch::Tensor x = sample();
  const torch::Tensor output = softmax->forward(x);
  expect_close(output, torch::exp(x) / torch::exp(x).sum(0, true));
  expect_close(output.sum(0), torch::ones({6}));
}

TEST(CatalogActivations, LogSoftmaxAlongDim) {
  auto log_softmax =
      torch_test::build<torchsystem::nn::LogSoftmax>(R"({"name": "LogSoftmax", "arguments": {"dim": -1}})");
  EXPECT_EQ(log_softmax->options.dim(), -1);
  const torch::Tensor x = sample();
  const torch::Tensor output = log_softmax->forward(x);
  expect_close(output, x - torch::logsumexp(x, -1, true));
  expect_close(torch::exp(output).sum(-1), torch::ones({4}));
}

TEST(CatalogActivations, SoftmaxWithoutDimChoosesAsPyTorch) {
  // PyTorch's implicit choice: dimension 0 for inputs of 0, 1 or 3 dimensions, else 1.
  for (const std::string arguments : {"{}", R"({"dim": null})"}) {
    auto softmax =
        torch_test::build<torchsystem::nn::Softmax>(R"({"name": "Softmax", "arguments": )" + arguments + "}");
    auto log_softmax = torch_test::build<torchsystem::nn::LogSoftmax>(
        R"({"name": "LogSoftmax", "arguments": )" + arguments + "}");
    for (const auto& [shape, dim] : std::vector<std::pair<std::vector<std::int64_t>, std::int64_t>>{
             {{5}, 0}, {{4, 5}, 1}, {{3, 4, 5}, 0}, {{2, 3, 4, 5}, 1}}) {
      const torch::Tensor x = torch::randn(shape);
      expect_close(softmax->forward(x), torch::softmax(x, dim));
      expect_close(log_softmax->forward(x), torch::log_softmax(x, dim));
    }
  }
}

TEST(CatalogActivations, SoftplusBetaAndThreshold) {
  auto softplus = torch_test::build<torch::nn::Softplus>(
      R"({"name": "Softplus", "arguments": {"beta": 2, "threshold": 5}})");
  EXPECT_DOUBLE_EQ(softplus->options.beta(), 2.0);
  EXPECT_DOUBLE_EQ(softplus->options.threshold(), 5.0);
  const torch::Tensor x = sample();
  // Linear where beta * x > threshold, (1 / beta) * log(1 + exp(beta * x)) elsewhere.
  expect_close(softplus->forward(x), torch::where(2 * x > 5, x, torch::log1p(torch::exp(2 * x)) / 2));
}

TEST(CatalogActivations, ELUInPlace) {
  auto elu =
      torch_test::build<torch::nn::ELU>(R"({"name": "ELU", "arguments": {"alpha": 0.5, "inplace": true}})");
  const torch::Tensor x = sample();
  expect_close(run(elu, true), torch::where(x > 0, x, 0.5 * (torch::exp(x) - 1)));
}

TEST(CatalogActivations, SELUInPlace) {
  auto selu = torch_test::build<torch::nn::SELU>(R"({"name": "SELU", "arguments": {"inplace": true}})");
  const double alpha = 1.6732632423543772848170429916717;
  const double scale = 1.0507009873554804934193349852946;
  const torch::Tensor x = sample();
  expect_close(run(selu, true),
               scale * (torch::clamp_min(x, 0) + torch::clamp_max(alpha * (torch::exp(x) - 1), 0)));
}

TEST(CatalogActivations, CELUAlpha) {
  auto celu = torch_test::build<torch::nn::CELU>(R"({"name": "CELU", "arguments": {"alpha": 2.0}})");
  const torch::Tensor x = sample();
  expect_close(run(celu, false),
               torch::clamp_min(x, 0) + torch::clamp_max(2.0 * (torch::exp(x / 2.0) - 1), 0));
}

TEST(CatalogActivations, GLUSplitsAlongDim) {
  auto glu = torch_test::build<torch::nn::GLU>(R"({"name": "GLU", "arguments": {"dim": 0}})");
  const torch::Tensor x = sample();  // 4 x 6: halves along dim 0 are rows 0-1 and rows 2-3
  const torch::Tensor output = glu->forward(x);
  ASSERT_EQ(output.sizes(), torch::IntArrayRef({2, 6}));
  expect_close(output, x.slice(0, 0, 2) * torch::sigmoid(x.slice(0, 2, 4)));
}

TEST(CatalogActivations, HardtanhRange) {
  auto hardtanh = torch_test::build<torch::nn::Hardtanh>(
      R"({"name": "Hardtanh", "arguments": {"min_val": -2, "max_val": 3, "inplace": true}})");
  EXPECT_DOUBLE_EQ(hardtanh->options.min_val(), -2.0);
  EXPECT_DOUBLE_EQ(hardtanh->options.max_val(), 3.0);
  expect_close(run(hardtanh, true), torch::clamp(sample(), -2, 3));
  // The deprecated parameters at their default None are accepted, and recorded when passed.
  auto defaults = torch_test::build<torch::nn::Hardtanh>(
      R"({"name": "Hardtanh", "arguments": {"min_value": null, "max_value": null}})");
  expect_close(defaults->forward(sample()), torch::clamp(sample(), -1, 1));
}

TEST(CatalogActivations, HardtanhDeprecatedBoundsAreRefused) {
  for (const std::string parameter : {"min_value", "max_value"}) {
    const std::string message =
        torch_test::build_error(R"({"name": "Hardtanh", "arguments": {")" + parameter + R"(": 0.5}})");
    EXPECT_NE(message.find("Hardtanh." + parameter), std::string::npos) << message;
    EXPECT_NE(message.find("only PyTorch's default null is accepted, got 0.5"), std::string::npos) << message;
  }
}

TEST(CatalogActivations, HardswishIsTheProjectsOwn) {
  auto hardswish =
      torch_test::build<ts::nn::Hardswish>(R"({"name": "Hardswish", "arguments": {"inplace": true}})");
  EXPECT_TRUE(hardswish->options.inplace());
  const torch::Tensor x = sample();
  const torch::Tensor output = run(hardswish, true);
  expect_close(output, torch::hardswish(x));
  expect_close(output, torch::where(x <= -3, torch::zeros_like(x), torch::where(x >= 3, x, x * (x + 3) / 6)));

  auto copy = ts::create<ts::nn::Hardswish>();
  EXPECT_EQ(ts::getname(copy), "Hardswish");
  EXPECT_FALSE(copy->options.inplace());
  expect_close(run(copy, false), output);
  std::ostringstream printed;
  copy->pretty_print(printed);
  EXPECT_EQ(printed.str(), "torchsystem::nn::Hardswish()");
}

TEST(CatalogActivations, HardsigmoidIsTheProjectsOwn) {
  auto hardsigmoid =
      torch_test::build<ts::nn::Hardsigmoid>(R"({"name": "Hardsigmoid", "arguments": {"inplace": true}})");
  const torch::Tensor x = sample();
  const torch::Tensor output = run(hardsigmoid, true);
  expect_close(output, torch::hardsigmoid(x));
  expect_close(output, torch::clamp(x / 6 + 0.5, 0, 1));

  auto copy = ts::create<ts::nn::Hardsigmoid>("inplace"_a = false);
  EXPECT_EQ(ts::getname(copy), "Hardsigmoid");
  EXPECT_EQ(ts::getarguments(copy), ts::Json({{"inplace", false}}));
  expect_close(run(copy, false), output);
  std::ostringstream printed;
  hardsigmoid->pretty_print(printed);
  EXPECT_EQ(printed.str(), "torchsystem::nn::Hardsigmoid(inplace=true)");
}

TEST(CatalogActivations, ThresholdReplacesBelow) {
  auto threshold = torch_test::build<torch::nn::Threshold>(
      R"({"name": "Threshold", "arguments": {"threshold": 0.1, "value": 20}})");
  const torch::Tensor x = sample();
  expect_close(run(threshold, false), torch::where(x > 0.1, x, torch::full_like(x, 20)));
}

TEST(CatalogActivations, ThresholdNeedsItsArguments) {
  const std::string message =
      torch_test::build_error(R"({"name": "Threshold", "arguments": {"threshold": 0.1}})");
  EXPECT_NE(message.find("Threshold.value"), std::string::npos) << message;
  EXPECT_NE(message.find("missing required argument"), std::string::npos) << message;
}

TEST(CatalogActivations, RegisteredInPyTorchsOrder) {
  const auto& modules = ts::torch_catalog().modules;
  EXPECT_EQ(modules.signature("Hardtanh"),
            ts::parse_json(R"({"min_val": "float", "max_val": "float", "inplace": "bool",
                               "min_value": "Optional", "max_value": "Optional"})"));
  EXPECT_EQ(modules.signature("Softmax"), ts::parse_json(R"({"dim": "Optional"})"));
  EXPECT_EQ(modules.signature("PReLU"), ts::parse_json(R"({"num_parameters": "int", "init": "float"})"));
  EXPECT_EQ(modules.signature("Threshold"),
            ts::parse_json(R"({"threshold": "float", "value": "float", "inplace": "bool"})"));
  EXPECT_EQ(modules.signature("Tanh"), ts::Json::object());
}

}  // namespace
