// LibTorch's handles as entities: holders, AnyModule, optimizers, registries of modules, and errors.
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/loss.h>
#include <torch/optim/adam.h>

#include <memory>
#include <string>

#include "seed_models.hpp"
#include "torch_test_support.hpp"

namespace module_test {

namespace ts = torchsystem;
using namespace ts::literals;

/// A user module with a holder-typed parameter: only a Linear fits.
class HeadImpl : public torch::nn::Module {
 public:
  HeadImpl(torch::nn::Linear layer, double scale) : layer(register_module("layer", layer)), scale(scale) {}
  torch::Tensor forward(torch::Tensor input) { return layer(input) * scale; }
  torch::nn::Linear layer;
  double scale;
};
TORCH_MODULE(Head);

/// A module without forward(): it cannot be held by an AnyModule.
class StoreImpl : public torch::nn::Module {
 public:
  explicit StoreImpl(std::int64_t size) { register_parameter("values", torch::zeros({size})); }
};
TORCH_MODULE(Store);

/// An optional activation: None (an empty AnyModule) means the identity.
class MaybeImpl : public torch::nn::Module {
 public:
  explicit MaybeImpl(torch::nn::AnyModule activation) : activation(std::move(activation)) {}
  torch::Tensor forward(torch::Tensor input) {
    return activation.is_empty() ? input : activation.forward(input);
  }
  torch::nn::AnyModule activation;
};
TORCH_MODULE(Maybe);

struct Models : ts::Registry<torch::nn::Module> {
  Models() : ts::Registry<torch::nn::Module>("registry models") {
    seed::register_seed_models(*this);
    register_class<Head(torch::nn::Linear, double)>("layer", "scale"_a = 1.0);
    register_class<Store(std::int64_t)>("size");
    register_class<Maybe(torch::nn::AnyModule)>("activation"_a = torch::nn::AnyModule());
    include(ts::torch_catalog().modules);
  }
};

const Models& models() {
  static const Models registry;
  return registry;
}

seed::MLP seed_mlp() {
  return ts::create<seed::MLP>(784, 256, 10, "dropout"_a = 0.5,
                               "activation"_a = ts::create<torch::nn::ReLU>());
}

TEST(TorchModule, HolderClassIsNamedAfterTheHolder) {
  models();
  EXPECT_EQ(ts::detail::registered_class<seed::MLP>.load()->name(), "MLP");
  EXPECT_EQ(ts::detail::registered_class<torch::nn::Linear>.load()->name(), "Linear");
  EXPECT_EQ(models().signature("Head"), ts::Json::parse(R"({"layer": "Linear", "scale": "float"})"));
}

TEST(TorchModule, CreateReturnsTheHolderAndCopiesShareOneIdentity) {
  models();
  const seed::MLP model = seed_mlp();
  EXPECT_EQ(ts::gethash(model), "af51a51a38f7ad81f9523360fafe7068");
  const seed::MLP copy = model;  // NOLINT: the copy is the point
  EXPECT_EQ(copy.ptr(), model.ptr());
  ts::setname(copy, "Renamed");
  EXPECT_EQ(ts::getname(model), "Renamed") << "a copy of a holder shares the module and its identity";
  const torch::nn::AnyModule any(model);
  EXPECT_EQ(ts::getname(any), "Renamed");
  EXPECT_EQ(ts::gethash(any), ts::gethash(model));
}

TEST(TorchModule, SeedModelRunsForwardAndHasTheSeedsLayers) {
  models();
  seed::MLP model = seed_mlp();
  model->eval();
  const auto output = model(torch::randn({3, 784}));
  EXPECT_EQ(output.sizes(), (std::vector<std::int64_t>{3, 10}));
  EXPECT_EQ(ts::parameter_count(*model), 784 * 256 + 256 + 256 * 10 + 10);
  const auto names = model->named_modules("", false).keys();
  EXPECT_EQ(names, (std::vector<std::string>{"input_layer", "dropout", "output_layer", "activation"}));
}

TEST(TorchModule, ModuleNotCreatedThroughTheLibraryIsNotAnEntity) {
  const torch::nn::ReLU plain;
  EXPECT_FALSE(ts::is_entity(plain));
  EXPECT_THROW(ts::gethash(plain), ts::NotAnEntityError);
  models();
  const auto message =
      torch_test::test_message([&] { ts::create<seed::MLP>(4, 4, 2, 0.0, torch::nn::AnyModule(plain)); });
  EXPECT_NE(message.find("MLP.activation"), std::string::npos) << message;
}

TEST(TorchModule, NestedEntitiesFromConfigResolveThroughIncludedCatalog) {
  const auto config = ts::parse_json(R"({"name": "MLP", "arguments": {"input_size": 8, "hidden_size": 4,
      "output_size": 2, "dropout": 0.1, "activation": {"name": "ReLU", "arguments": {"inplace": true}}}})");
  auto model = models().create_as<seed::MLP>(config);
  EXPECT_EQ(ts::getarguments(model)["activation"], config["arguments"]["activation"]);
  EXPECT_EQ(ts::gethash(model), ts::identity_hash("MLP", config["arguments"]));
  EXPECT_EQ(model(torch::randn({5, 8})).sizes(), (std::vector<std::int64_t>{5, 2}));
}

TEST(TorchModule, ConfigOfACreatedModelRebuildsTheSameIdentity) {
  models();
  const seed::MLP model = seed_mlp();
  const ts::Json config{{"name", ts::getname(model)}, {"arguments", ts::getarguments(model)}};
  const auto rebuilt = models().create_as<seed::MLP>(config);
  EXPECT_EQ(ts::gethash(rebuilt), ts::gethash(model));
  EXPECT_NE(rebuilt.ptr(), model.ptr());
}

TEST(TorchModule, HolderParameterTakesOnlyItsModule) {
  models();
  auto head = ts::create<Head>(ts::create<torch::nn::Linear>(3, 2), "scale"_a = 2.0);
  EXPECT_EQ(
      ts::dumps(ts::getarguments(head)),
      R"({"layer": {"name": "Linear", "arguments": {"in_features": 3, "out_features": 2}}, "scale": 2.0})");
  const auto input = torch::randn({4, 3});
  EXPECT_TRUE(torch::allclose(head(input), head->layer(input) * 2.0));

  const auto wrong = torch_test::test_message(
      [] { models().create(ts::parse_json(R"({"name": "Head", "arguments": {"layer": "ReLU"}})")); });
  EXPECT_EQ(wrong, "Head.layer: expected Linear, got a ReLU");
}

TEST(TorchModule, AnyModuleParameterRefusesAModuleWithoutForward) {
  const auto message = torch_test::test_message([] {
    models().create(ts::parse_json(
        R"({"name": "MLP", "arguments": {"input_size": 2, "hidden_size": 2, "output_size": 2, "dropout": 0.0,
            "activation": {"name": "Store", "arguments": {"size": 3}}}})"));
  });
  EXPECT_NE(message.find("MLP.activation: expected Module"), std::string::npos) << message;
}

TEST(TorchModule, EmptyAnyModuleIsNone) {
  models();
  const auto none = ts::create<Maybe>();
  EXPECT_EQ(ts::getarguments(none), ts::Json::object());
  const auto explicit_none = ts::create<Maybe>(torch::nn::AnyModule());
  EXPECT_EQ(ts::dumps(ts::getarguments(explicit_none)), R"({"activation": null})");
  auto from_config =
      models().create_as<Maybe>(ts::parse_json(R"({"name": "Maybe", "arguments": {"activation": null}})"));
  const auto input = torch::randn({2, 2});
  EXPECT_TRUE(torch::equal(from_config(input), input));
  auto with_relu = ts::create<Maybe>(ts::create<torch::nn::ReLU>());
  EXPECT_TRUE(torch::equal(with_relu(input), torch::relu(input)));
}

TEST(TorchModule, CreateAsRefusesTheWrongHandle) {
  const auto message = torch_test::test_message([] {
    ts::torch_catalog().modules.create_as<torch::nn::Conv2d>(ts::parse_json(R"({"name": "ReLU"})"));
  });
  EXPECT_EQ(message, "ReLU: was built, but it cannot be handed out as Conv2d");
  auto any =
      ts::torch_catalog().modules.create_as<torch::nn::AnyModule>(ts::parse_json(R"({"name": "ReLU"})"));
  EXPECT_TRUE(torch::equal(any.forward(torch::tensor({-1.0, 2.0})), torch::tensor({0.0, 2.0})));
}

TEST(TorchModule, LibTorchErrorsNameTheClassAndKeepTheOriginal) {
  // Conv2d refuses in_channels not divisible by groups; the error names the class, without a backtrace.
  try {
    ts::torch_catalog().modules.create(
        ts::parse_json(R"({"name": "Linear", "arguments": {"in_features": -3, "out_features": 2}})"));
    ADD_FAILURE() << "a negative size was accepted";
  } catch (const ts::ArgumentError& error) {
    EXPECT_EQ(error.path(), "Linear");
    EXPECT_EQ(std::string(error.reason()).find('\n'), std::string::npos) << error.reason();
    EXPECT_THROW(std::rethrow_if_nested(error), c10::Error);
  }
}

TEST(TorchModule, OptimizerTakesParametersInCodeAndLeavesThemOutOfIdentity) {
  models();
  seed::MLP model = seed_mlp();
  const auto optimizer = ts::create<torch::optim::Adam>(model->parameters(), "lr"_a = 0.001);
  EXPECT_EQ(ts::dumps(ts::getarguments(optimizer)), R"({"lr": 0.001})");
  EXPECT_EQ(optimizer->param_groups().front().params().size(), model->parameters().size());
  const auto& options = static_cast<const torch::optim::AdamOptions&>(optimizer->defaults());
  EXPECT_DOUBLE_EQ(options.lr(), 0.001);

  const auto message = torch_test::test_message([] {
    ts::torch_catalog().optimizers.create(ts::parse_json(R"({"name": "Adam", "arguments": {"lr": 0.1}})"));
  });
  EXPECT_EQ(
      message,
      "Adam.params: missing required argument of type list[Tensor] (it has no JSON form: pass it in code)");
  const auto from_config = ts::torch_catalog().optimizers.create(
      ts::parse_json(R"({"name": "Adam", "arguments": {"betas": [0.8, 0.9]}})"), model->parameters());
  EXPECT_EQ(ts::gethash(from_config), ts::identity_hash("Adam", ts::Json::parse(R"({"betas": [0.8, 0.9]})")));
}

TEST(TorchModule, TensorArgumentsAreRecordedAsValues) {
  const auto weighted = ts::create<torch::nn::CrossEntropyLoss>(torch::tensor({1.0F, 0.1F}));
  EXPECT_EQ(ts::dumps(ts::getarguments(weighted)), R"({"weight": [1.0, 0.1]})");
  const auto from_config = ts::torch_catalog().losses.create_as<torch::nn::CrossEntropyLoss>(
      ts::parse_json(R"({"name": "CrossEntropyLoss", "arguments": {"weight": [[1, 2]]}})"));
  EXPECT_TRUE(torch::equal(from_config->options.weight(), torch::tensor({{1.0F, 2.0F}})));
  const auto ragged = torch_test::test_message([] {
    ts::torch_catalog().losses.create(
        ts::parse_json(R"({"name": "CrossEntropyLoss", "arguments": {"weight": [[1, 2], [3]]}})"));
  });
  EXPECT_EQ(ragged, "CrossEntropyLoss.weight: expected a rectangular nested list of numbers, got [3]");
}

}  // namespace module_test
