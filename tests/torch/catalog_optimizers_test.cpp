// The catalog's optimizers: each, built from a configuration with non-default arguments over a small
// linear model, takes the same steps as the same LibTorch optimizer built directly with the same options
// over a copy of the model (same starting weights, same gradients), and the steps move the weights.
// PyTorch's parameters LibTorch lacks accept only PyTorch's default.
#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/lbfgs.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "torch_test_support.hpp"

namespace {

namespace ts = torchsystem;
namespace optim = torch::optim;

using MakeDirect = std::function<std::unique_ptr<optim::Optimizer>(std::vector<torch::Tensor>)>;

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> copied;
  for (const auto& tensor : tensors) copied.push_back(tensor.detach().clone());
  return copied;
}

/// Two identical linear models, a regression problem, and `steps` steps of each optimizer on its model.
class CatalogOptimizersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    input_ = torch::randn({8, 3});
    target_ = torch::randn({8, 2});
    torch::NoGradGuard no_grad;
    auto from = catalog_model_->parameters();
    auto to = direct_model_->parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  }

  /// Steps the catalog's optimizer built from `config` and the direct one side by side: the weights
  /// stay equal after every step, and end away from where they started.
  std::shared_ptr<optim::Optimizer> expect_same_steps(std::string_view config, const MakeDirect& make_direct,
                                                      int steps = 3) {
    const auto initial = copies(catalog_model_->parameters());
    auto built = torch_test::build_optimizer(config, catalog_model_->parameters());
    auto direct = make_direct(direct_model_->parameters());
    for (int step = 0; step < steps; ++step) {
      const torch::Tensor built_loss = built->step(closure(catalog_model_, *built));
      const torch::Tensor direct_loss = direct->step(closure(direct_model_, *direct));
      EXPECT_TRUE(torch::equal(built_loss, direct_loss)) << "step " << step;
      const auto got = catalog_model_->parameters();
      const auto expected = direct_model_->parameters();
      for (std::size_t i = 0; i < got.size(); ++i)
        EXPECT_TRUE(torch::equal(got[i], expected[i])) << "step " << step << ", parameter " << i;
    }
    const auto final_weights = catalog_model_->parameters();
    for (std::size_t i = 0; i < initial.size(); ++i)
      EXPECT_FALSE(torch::allclose(final_weights[i], initial[i])) << "parameter " << i << " did not move";
    return built;
  }

  optim::Optimizer::LossClosure closure(torch::nn::Linear& model, optim::Optimizer& optimizer) {
    return [this, &model, &optimizer] {
      optimizer.zero_grad();
      auto loss = torch::mse_loss(model(input_), target_);
      loss.backward();
      return loss;
    };
  }

  torch::Tensor input_;
  torch::Tensor target_;
  torch::nn::Linear catalog_model_{3, 2};
  torch::nn::Linear direct_model_{3, 2};
};

/// The message of the ArgumentError building `config_text` over one tensor throws, or "" when it builds.
std::string build_error(std::string_view config_text) {
  try {
    ts::torch_catalog().optimizers.create(
        ts::parse_json(config_text), std::vector<torch::Tensor>{torch::zeros({2}, torch::requires_grad())});
  } catch (const ts::ArgumentError& error) {
    return error.what();
  }
  return "";
}

TEST_F(CatalogOptimizersTest, SGD) {
  auto built = expect_same_steps(
      R"({"name": "SGD", "arguments": {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.01,
          "nesterov": true}})",
      [](std::vector<torch::Tensor> params) {
        return std::make_unique<optim::SGD>(
            std::move(params),
            optim::SGDOptions(0.05).momentum(0.9).dampening(0.0).weight_decay(0.01).nesterov(true));
      });
  ASSERT_NE(std::dynamic_pointer_cast<optim::SGD>(built), nullptr);
}

TEST_F(CatalogOptimizersTest, SGDWithDampening) {
  expect_same_steps(R"({"name": "SGD", "arguments": {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}})",
                    [](std::vector<torch::Tensor> params) {
                      return std::make_unique<optim::SGD>(
                          std::move(params), optim::SGDOptions(0.05).momentum(0.9).dampening(0.5));
                    });
}

TEST_F(CatalogOptimizersTest, SGDStepFollowsTheUpdateRule) {
  // One step with momentum from rest: the buffer is the decayed gradient, p <- p - lr * (g + wd * p).
  const auto weight = catalog_model_->weight.detach().clone();
  auto built = torch_test::build_optimizer(R"({"name": "SGD", "arguments": {"lr": 0.1, "momentum": 0.9,
      "weight_decay": 0.5}})",
                                           catalog_model_->parameters());
  built->step(closure(catalog_model_, *built));
  const auto gradient = catalog_model_->weight.grad();
  EXPECT_TRUE(torch::allclose(catalog_model_->weight, weight - 0.1 * (gradient + 0.5 * weight)));
}

TEST_F(CatalogOptimizersTest, SGDLearningRateDefaultsToPyTorchs) {
  auto built = torch_test::build_optimizer(R"({"name": "SGD"})", catalog_model_->parameters());
  EXPECT_EQ(static_cast<optim::SGDOptions&>(built->defaults()).lr(), 0.001);
}

TEST_F(CatalogOptimizersTest, Adam) {
  expect_same_steps(
      R"({"name": "Adam", "arguments": {"lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-06, "weight_decay": 0.1,
          "amsgrad": true}})",
      [](std::vector<torch::Tensor> params) {
        return std::make_unique<optim::Adam>(std::move(params), optim::AdamOptions(0.01)
                                                                    .betas(std::make_tuple(0.8, 0.99))
                                                                    .eps(1e-6)
                                                                    .weight_decay(0.1)
                                                                    .amsgrad(true));
      });
}

TEST_F(CatalogOptimizersTest, AdamW) {
  auto built = expect_same_steps(
      R"({"name": "AdamW", "arguments": {"lr": 0.01, "betas": [0.85, 0.995], "eps": 1e-07, "weight_decay": 0.2,
          "amsgrad": true}})",
      [](std::vector<torch::Tensor> params) {
        return std::make_unique<optim::AdamW>(std::move(params), optim::AdamWOptions(0.01)
                                                                     .betas(std::make_tuple(0.85, 0.995))
                                                                     .eps(1e-7)
                                                                     .weight_decay(0.2)
                                                                     .amsgrad(true));
      });
  ASSERT_NE(std::dynamic_pointer_cast<optim::AdamW>(built), nullptr);
}

TEST_F(CatalogOptimizersTest, AdamWWeightDecayDefaultsToPyTorchs) {
  auto built = torch_test::build_optimizer(R"({"name": "AdamW"})", catalog_model_->parameters());
  EXPECT_EQ(static_cast<optim::AdamWOptions&>(built->defaults()).weight_decay(), 0.01);
}

TEST_F(CatalogOptimizersTest, RMSprop) {
  expect_same_steps(
      R"({"name": "RMSprop", "arguments": {"lr": 0.02, "alpha": 0.9, "eps": 1e-06, "weight_decay": 0.1,
          "momentum": 0.5, "centered": true}})",
      [](std::vector<torch::Tensor> params) {
        return std::make_unique<optim::RMSprop>(
            std::move(params),
            optim::RMSpropOptions(0.02).alpha(0.9).eps(1e-6).weight_decay(0.1).momentum(0.5).centered(true));
      });
}

TEST_F(CatalogOptimizersTest, Adagrad) {
  expect_same_steps(
      R"({"name": "Adagrad", "arguments": {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1,
          "initial_accumulator_value": 0.5, "eps": 1e-08}})",
      [](std::vector<torch::Tensor> params) {
        return std::make_unique<optim::Adagrad>(
            std::move(params),
            optim::AdagradOptions(0.1).lr_decay(0.01).weight_decay(0.1).initial_accumulator_value(0.5).eps(
                1e-8));
      });
}

TEST_F(CatalogOptimizersTest, LBFGS) {
  expect_same_steps(
      R"({"name": "LBFGS", "arguments": {"lr": 0.5, "max_iter": 5, "max_eval": 8, "tolerance_grad": 1e-06,
          "tolerance_change": 1e-08, "history_size": 4}})",
      [](std::vector<torch::Tensor> params) {
        return std::make_unique<optim::LBFGS>(std::move(params), optim::LBFGSOptions(0.5)
                                                                     .max_iter(5)
                                                                     .max_eval(8)
                                                                     .tolerance_grad(1e-6)
                                                                     .tolerance_change(1e-8)
                                                                     .history_size(4));
      },
      2);
}

TEST_F(CatalogOptimizersTest, LBFGSWithStrongWolfeLineSearch) {
  auto built = expect_same_steps(
      R"({"name": "LBFGS", "arguments": {"max_iter": 4, "max_eval": null, "line_search_fn": "strong_wolfe"}})",
      [](std::vector<torch::Tensor> params) {
        return std::make_unique<optim::LBFGS>(
            std::move(params), optim::LBFGSOptions(1).max_iter(4).line_search_fn("strong_wolfe"));
      },
      2);
  // PyTorch's max_eval=None is max_iter * 5 // 4.
  EXPECT_EQ(static_cast<optim::LBFGSOptions&>(built->defaults()).max_eval().value(), 5);
}

TEST_F(CatalogOptimizersTest, LBFGSRefusesAnUnknownLineSearch) {
  const std::string message =
      build_error(R"({"name": "LBFGS", "arguments": {"line_search_fn": "backtracking"}})");
  EXPECT_NE(message.find(R"(LBFGS.line_search_fn: expected None or "strong_wolfe", got "backtracking")"),
            std::string::npos)
      << message;
}

// Every PyTorch parameter LibTorch 1.13 lacks: the non-default value is refused, naming the parameter.
TEST_F(CatalogOptimizersTest, ParametersLibTorchLacksAcceptOnlyPyTorchsDefault) {
  struct Case {
    std::string optimizer;
    std::string parameter;
    std::string value;
    std::string default_value;
  };
  const std::vector<Case> cases = {
      {"SGD", "maximize", "true", "false"},
      {"SGD", "foreach", "false", "null"},
      {"SGD", "differentiable", "true", "false"},
      {"SGD", "fused", "true", "null"},
      {"Adam", "foreach", "true", "null"},
      {"Adam", "maximize", "true", "false"},
      {"Adam", "capturable", "true", "false"},
      {"Adam", "differentiable", "true", "false"},
      {"Adam", "fused", "false", "null"},
      {"Adam", "decoupled_weight_decay", "true", "false"},
      {"AdamW", "maximize", "true", "false"},
      {"AdamW", "foreach", "true", "null"},
      {"AdamW", "capturable", "true", "false"},
      {"AdamW", "differentiable", "true", "false"},
      {"AdamW", "fused", "true", "null"},
      {"RMSprop", "capturable", "true", "false"},
      {"RMSprop", "foreach", "true", "null"},
      {"RMSprop", "maximize", "true", "false"},
      {"RMSprop", "differentiable", "true", "false"},
      {"Adagrad", "foreach", "true", "null"},
      {"Adagrad", "maximize", "true", "false"},
      {"Adagrad", "differentiable", "true", "false"},
      {"Adagrad", "fused", "true", "null"},
  };
  for (const auto& c : cases) {
    const std::string prefix =
        R"({"name": ")" + c.optimizer + R"(", "arguments": {")" + c.parameter + R"(": )";
    EXPECT_EQ(build_error(prefix + c.default_value + "}}"), "") << c.optimizer << "." << c.parameter;
    const std::string message = build_error(prefix + c.value + "}}");
    EXPECT_NE(message.find(c.optimizer + "." + c.parameter + ": LibTorch 1.13 has no equivalent"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("only PyTorch's default " + c.default_value + " is accepted, got " + c.value),
              std::string::npos)
        << message;
  }
}

TEST_F(CatalogOptimizersTest, ParametersAreLeftOutOfIdentity) {
  auto built = ts::torch_catalog().optimizers.create(ts::parse_json(R"({"name": "RMSprop"})"),
                                                     catalog_model_->parameters());
  EXPECT_EQ(ts::getarguments(built), ts::Json::object());
  EXPECT_EQ(built->param_groups().at(0).params().size(), 2U);
}

}  // namespace
