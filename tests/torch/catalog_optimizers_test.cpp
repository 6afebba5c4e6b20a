// The catalog's optimizers: each, built from a configuration with non-default arguments over a small
// linear model, takes the same steps as the same LibTorch optimizer built directly with the same options
// over a copy of the model (same starting weights, same gradients), and the steps move the weights.
// `maximize=True` steps as PyTorch 1.13 does; PyTorch's parameters LibTorch lacks accept only PyTorch's
// default.
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
#include "torchsystem/torch/optimizers.hpp"

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

// Before, history_size had no bound: 1e9 took 9.7 GB at the first step, then std::bad_alloc.
TEST_F(CatalogOptimizersTest, LBFGSBoundsItsHistoryBeforeAnythingIsAllocated) {
  for (const char* size : {"1000000000", "10001", "0", "-1"}) {
    const std::string message =
        build_error(std::string(R"({"name": "LBFGS", "arguments": {"history_size": )") + size + "}}");
    EXPECT_NE(message.find(std::string("LBFGS.history_size: expected an int from 1 to 10000, got ") + size),
              std::string::npos)
        << message;
  }
  EXPECT_EQ(build_error(R"({"name": "LBFGS", "arguments": {"history_size": 10000}})"), "");
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
      {"SGD", "foreach", "false", "null"},
      {"SGD", "differentiable", "true", "false"},
      {"SGD", "fused", "true", "null"},
      {"Adam", "foreach", "true", "null"},
      {"Adam", "capturable", "true", "false"},
      {"Adam", "differentiable", "true", "false"},
      {"Adam", "fused", "false", "null"},
      {"Adam", "decoupled_weight_decay", "true", "false"},
      {"AdamW", "foreach", "true", "null"},
      {"AdamW", "capturable", "true", "false"},
      {"AdamW", "differentiable", "true", "false"},
      {"AdamW", "fused", "true", "null"},
      {"RMSprop", "capturable", "true", "false"},
      {"RMSprop", "foreach", "true", "null"},
      {"RMSprop", "differentiable", "true", "false"},
      {"Adagrad", "foreach", "true", "null"},
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

// maximize=True: the values PyTorch 1.13 computes (scripts/make_maximize_vectors.py prints
// them) for two
// steps on set gradients, with weight decay, so that the gradient is negated before it is added.
TEST(CatalogMaximize, MatchesPyTorch) {
  struct Case {
    std::string config;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {R"({"name": "SGD", "arguments": {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.5, "nesterov": true,
          "maximize": true}})",
       {0.420852512F, -0.746820033F, 1.69623005F, 0.205172509F, 0.0525000021F, -0.14064002F}},
      {R"({"name": "Adam", "arguments": {"lr": 0.1, "weight_decay": 0.5, "amsgrad": true, "maximize": true}})",
       {0.315587521F, -0.802813709F, 1.80003583F, 0.159978151F, 0.0255863219F, -0.213841289F}},
      {R"({"name": "AdamW", "arguments": {"lr": 0.1, "weight_decay": 0.5, "maximize": true}})",
       {0.572883666F, -0.948080957F, 1.99321795F, 0.171937793F, 0.129299626F, -0.18766728F}},
      {R"({"name": "RMSprop", "arguments": {"lr": 0.1, "weight_decay": 0.5, "momentum": 0.5, "centered": true,
          "maximize": true}})",
       {-0.054886274F, 1.11216557F, 0.0424101576F, -0.404738218F, -0.905037522F, 0.860350549F}},
      {R"({"name": "Adagrad", "arguments": {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.5, "maximize": true}})",
       {0.310327828F, -0.819786072F, 1.82901192F, 0.228747994F, 0.00909090787F, -0.272884101F}},
  };
  const std::vector<torch::Tensor> gradients = {torch::tensor({{0.2F, -0.1F, 0.4F}, {-0.3F, 0.05F, 0.6F}}),
                                                torch::tensor({{-0.1F, 0.3F, 0.2F}, {0.25F, -0.2F, 0.1F}})};
  for (const auto& c : cases) {
    auto parameter = torch::tensor({{0.5F, -1.0F, 2.0F}, {0.3F, 0.1F, -0.4F}}).requires_grad_();
    auto optimizer = torch_test::build_optimizer(c.config, {parameter});
    EXPECT_TRUE(ts::maximizes(*optimizer)) << c.config;
    for (const auto& gradient : gradients) {
      parameter.mutable_grad() = gradient.clone();
      optimizer->step();
      EXPECT_TRUE(torch::equal(parameter.grad(), gradient)) << "the gradient is restored: " << c.config;
    }
    EXPECT_TRUE(torch::allclose(parameter.detach().flatten(), torch::tensor(c.expected), 1e-5, 1e-6))
        << c.config << "\n"
        << parameter;
  }
}

// Maximizing the loss is minimizing its negation, step for step, through step(closure).
TEST_F(CatalogOptimizersTest, MaximizeIsMinimizingTheNegatedLoss) {
  const std::vector<std::pair<std::string, MakeDirect>> cases = {
      {R"({"name": "SGD", "arguments": {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1, "maximize": true}})",
       [](std::vector<torch::Tensor> params) {
         return std::make_unique<optim::SGD>(std::move(params),
                                             optim::SGDOptions(0.05).momentum(0.9).weight_decay(0.1));
       }},
      {R"({"name": "Adam", "arguments": {"lr": 0.01, "weight_decay": 0.1, "maximize": true}})",
       [](std::vector<torch::Tensor> params) {
         return std::make_unique<optim::Adam>(std::move(params), optim::AdamOptions(0.01).weight_decay(0.1));
       }},
      {R"({"name": "AdamW", "arguments": {"lr": 0.01, "amsgrad": true, "maximize": true}})",
       [](std::vector<torch::Tensor> params) {
         return std::make_unique<optim::AdamW>(std::move(params), optim::AdamWOptions(0.01).amsgrad(true));
       }},
      {R"({"name": "RMSprop", "arguments": {"lr": 0.01, "weight_decay": 0.1, "momentum": 0.5,
          "maximize": true}})",
       [](std::vector<torch::Tensor> params) {
         return std::make_unique<optim::RMSprop>(std::move(params),
                                                 optim::RMSpropOptions(0.01).weight_decay(0.1).momentum(0.5));
       }},
      {R"({"name": "Adagrad", "arguments": {"lr": 0.1, "weight_decay": 0.1, "maximize": true}})",
       [](std::vector<torch::Tensor> params) {
         return std::make_unique<optim::Adagrad>(std::move(params),
                                                 optim::AdagradOptions(0.1).weight_decay(0.1));
       }},
  };
  for (const auto& [config, make_direct] : cases) {
    SetUp();
    auto built = torch_test::build_optimizer(config, catalog_model_->parameters());
    auto direct = make_direct(direct_model_->parameters());
    const double initial_loss = torch::mse_loss(catalog_model_(input_), target_).item<double>();
    for (int step = 0; step < 3; ++step) {
      built->step(closure(catalog_model_, *built));
      // The gradients stay those of the loss, as the user's backward produced them.
      const auto gradients = copies({catalog_model_->weight.grad(), catalog_model_->bias.grad()});
      direct->step([&] {
        direct->zero_grad();
        auto negated = -torch::mse_loss(direct_model_(input_), target_);
        negated.backward();
        return negated;
      });
      EXPECT_TRUE(torch::allclose(gradients[0], -direct_model_->weight.grad())) << config;
      EXPECT_TRUE(torch::allclose(catalog_model_->weight, direct_model_->weight))
          << config << " step " << step;
      EXPECT_TRUE(torch::allclose(catalog_model_->bias, direct_model_->bias)) << config << " step " << step;
    }
    EXPECT_GT(torch::mse_loss(catalog_model_(input_), target_).item<double>(), initial_loss) << config;
  }
}

TEST_F(CatalogOptimizersTest, MaximizingOptimizersStayLibTorchs) {
  auto adam = torch_test::build_optimizer(R"({"name": "Adam", "arguments": {"maximize": true}})",
                                          catalog_model_->parameters());
  ASSERT_NE(std::dynamic_pointer_cast<optim::Adam>(adam), nullptr);
  adam->step(closure(catalog_model_, *adam));
  const auto& state = adam->state().at(c10::guts::to_string(catalog_model_->weight.unsafeGetTensorImpl()));
  EXPECT_NE(dynamic_cast<optim::AdamParamState*>(state.get()), nullptr);
  EXPECT_NE(dynamic_cast<optim::AdamOptions*>(&adam->param_groups().at(0).options()), nullptr);
  for (const std::string name : {"SGD", "AdamW", "RMSprop", "Adagrad"}) {
    auto built = torch_test::build_optimizer(R"({"name": ")" + name + R"("})", catalog_model_->parameters());
    EXPECT_FALSE(ts::maximizes(*built)) << name;
  }
  EXPECT_NE(std::dynamic_pointer_cast<optim::SGD>(torch_test::build_optimizer(
                R"({"name": "SGD", "arguments": {"maximize": true}})", catalog_model_->parameters())),
            nullptr);
}

TEST_F(CatalogOptimizersTest, SetMaximizeSwitchesTheDirection) {
  auto sgd =
      torch_test::build_optimizer(R"({"name": "SGD", "arguments": {"lr": 0.1}})", {catalog_model_->bias});
  EXPECT_FALSE(ts::maximizes(*sgd));
  ts::set_maximize(*sgd, true);
  EXPECT_TRUE(ts::maximizes(*sgd));
  const auto bias = catalog_model_->bias.detach().clone();
  catalog_model_->bias.mutable_grad() = torch::ones({2});
  sgd->step();
  EXPECT_TRUE(torch::allclose(catalog_model_->bias, bias + 0.1));
  ts::set_maximize(*sgd, false);
  EXPECT_FALSE(ts::maximizes(*sgd));
  sgd->step();
  EXPECT_TRUE(torch::allclose(catalog_model_->bias, bias));
}

TEST_F(CatalogOptimizersTest, SetMaximizeRefusesOptimizersThatCannot) {
  auto lbfgs = torch_test::build_optimizer(R"({"name": "LBFGS"})", catalog_model_->parameters());
  EXPECT_FALSE(ts::maximizes(*lbfgs));
  ts::set_maximize(*lbfgs, false);
  try {
    ts::set_maximize(*lbfgs, true);
    ADD_FAILURE() << "LBFGS was set to maximize";
  } catch (const ts::ArgumentError& error) {
    EXPECT_EQ(error.path(), "maximize");
    EXPECT_NE(error.reason().find("LBFGS has no maximize"), std::string::npos) << error.what();
  }
  optim::Adam plain(direct_model_->parameters());
  EXPECT_FALSE(ts::maximizes(plain));
  EXPECT_THROW(ts::set_maximize(plain, true), ts::ArgumentError);
}

TEST_F(CatalogOptimizersTest, ParametersAreLeftOutOfIdentity) {
  auto built = ts::torch_catalog().optimizers.create(ts::parse_json(R"({"name": "RMSprop"})"),
                                                     catalog_model_->parameters());
  EXPECT_EQ(ts::getarguments(built), ts::Json::object());
  EXPECT_EQ(built->param_groups().at(0).params().size(), 2U);
}

}  // namespace
