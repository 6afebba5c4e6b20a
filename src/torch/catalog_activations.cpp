// The catalog's activation modules.
//
// Where PyTorch and LibTorch 1.13 differ:
// - SiLU and Mish take `inplace` in PyTorch and nothing in LibTorch: only inplace=False is accepted.
// - Softmax and LogSoftmax: PyTorch's `dim` defaults to None, an implicit choice of dimension at
//   forward; LibTorch's modules need the dimension at construction, so the project's own modules
//   (torchsystem/torch/activations.hpp) are registered under these names.
// - Hardtanh's deprecated `min_value` and `max_value` (after `inplace`) accept only None.
// - Hardswish and Hardsigmoid are not in LibTorch 1.13: torchsystem::nn provides them
//   (torchsystem/torch/activations.hpp).
#include <torch/nn/modules/activation.h>

#include "catalog_support.hpp"
#include "torchsystem/torch/activations.hpp"

namespace torchsystem::catalog {

namespace {

/// A string option LibTorch keeps as a string (GELU's `approximate`): one of PyTorch's spellings.
std::string one_of(std::string_view parameter, const std::string& value,
                   std::initializer_list<std::string_view> accepted) {
  if (std::find(accepted.begin(), accepted.end(), value) != accepted.end()) return value;
  std::string expected;
  for (const auto name : accepted)
    expected += (expected.empty() ? "one of \"" : ", \"") + std::string(name) + "\"";
  throw ArgumentError(std::string(parameter), "expected " + expected + ", got \"" + value + "\"");
}

}  // namespace

void register_activations(TorchCatalog& catalog) {
  auto& modules = catalog.modules;
  modules.register_class<torch::nn::ReLU>(
      factory([](bool inplace) { return torch::nn::ReLUOptions(inplace); }), "inplace"_a = false);
  modules.register_class<torch::nn::ReLU6>(
      factory([](bool inplace) { return torch::nn::ReLU6Options(inplace); }), "inplace"_a = false);
  modules.register_class<torch::nn::LeakyReLU>(
      factory([](double negative_slope, bool inplace) {
        return torch::nn::LeakyReLUOptions().negative_slope(negative_slope).inplace(inplace);
      }),
      "negative_slope"_a = 0.01, "inplace"_a = false);
  modules.register_class<torch::nn::PReLU>(
      factory([](std::int64_t num_parameters, double init) {
        return torch::nn::PReLUOptions().num_parameters(num_parameters).init(init);
      }),
      "num_parameters"_a = std::int64_t{1}, "init"_a = 0.25);
  modules.register_class<torch::nn::GELU>(
      factory([](std::string approximate) {
        return torch::nn::GELUOptions().approximate(one_of("approximate", approximate, {"none", "tanh"}));
      }),
      "approximate"_a = std::string("none"));
  modules.register_class<torch::nn::SiLU>(factory([](bool inplace) {
                                            only_default("inplace", inplace, false);
                                            return std::tuple<>{};
                                          }),
                                          "inplace"_a = false);
  modules.register_class<torch::nn::Mish>(factory([](bool inplace) {
                                            only_default("inplace", inplace, false);
                                            return std::tuple<>{};
                                          }),
                                          "inplace"_a = false);
  modules.register_class<torch::nn::Tanh()>();
  modules.register_class<torch::nn::Sigmoid()>();
  modules.register_class<torchsystem::nn::Softmax>(
      factory([](std::optional<std::int64_t> dim) { return torchsystem::nn::SoftmaxOptions(dim); }),
      "dim"_a = std::nullopt);
  modules.register_class<torchsystem::nn::LogSoftmax>(
      factory([](std::optional<std::int64_t> dim) { return torchsystem::nn::SoftmaxOptions(dim); }),
      "dim"_a = std::nullopt);
  modules.register_class<torch::nn::Softplus>(
      factory([](double beta, double threshold) {
        return torch::nn::SoftplusOptions().beta(beta).threshold(threshold);
      }),
      "beta"_a = 1.0, "threshold"_a = 20.0);
  modules.register_class<torch::nn::ELU>(factory([](double alpha, bool inplace) {
                                           return torch::nn::ELUOptions().alpha(alpha).inplace(inplace);
                                         }),
                                         "alpha"_a = 1.0, "inplace"_a = false);
  modules.register_class<torch::nn::SELU>(
      factory([](bool inplace) { return torch::nn::SELUOptions(inplace); }), "inplace"_a = false);
  modules.register_class<torch::nn::CELU>(factory([](double alpha, bool inplace) {
                                            return torch::nn::CELUOptions().alpha(alpha).inplace(inplace);
                                          }),
                                          "alpha"_a = 1.0, "inplace"_a = false);
  modules.register_class<torch::nn::GLU>(factory([](std::int64_t dim) { return torch::nn::GLUOptions(dim); }),
                                         "dim"_a = std::int64_t{-1});
  modules.register_class<torch::nn::Hardtanh>(
      factory([](double min_val, double max_val, bool inplace, std::optional<double> min_value,
                 std::optional<double> max_value) {
        only_default("min_value", min_value, std::nullopt);
        only_default("max_value", max_value, std::nullopt);
        return torch::nn::HardtanhOptions().min_val(min_val).max_val(max_val).inplace(inplace);
      }),
      "min_val"_a = -1.0, "max_val"_a = 1.0, "inplace"_a = false, "min_value"_a = std::nullopt,
      "max_value"_a = std::nullopt);
  modules.register_class<torchsystem::nn::Hardswish>(
      factory([](bool inplace) { return torchsystem::nn::HardswishOptions(inplace); }), "inplace"_a = false);
  modules.register_class<torchsystem::nn::Hardsigmoid>(
      factory([](bool inplace) { return torchsystem::nn::HardsigmoidOptions(inplace); }),
      "inplace"_a = false);
  modules.register_class<torch::nn::Softsign()>();
  modules.register_class<torch::nn::Tanhshrink()>();
  modules.register_class<torch::nn::Threshold>(
      factory([](double threshold, double value, bool inplace) {
        return torch::nn::ThresholdOptions(threshold, value).inplace(inplace);
      }),
      "threshold", "value", "inplace"_a = false);
}

}  // namespace torchsystem::catalog
