// The seed's example in C++ (examples/seed.cpp) prints the seed's values; the same values hold in process.
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/loss.h>
#include <torch/optim/adam.h>

#include "example_output.hpp"
#include "seed_models.hpp"
#include "torch_test_support.hpp"

namespace seed_test {

namespace ts = torchsystem;
using namespace ts::literals;

constexpr const char* seed_program = TORCHSYSTEM_SEED_EXAMPLE;
using SeedExample = example_output::ExampleOutput<seed_program>;

TEST_F(SeedExample, PrintsTheSeedsValues) {
  EXPECT_EQ(status_, 0);
  EXPECT_TRUE(prints("gethash(model):           af51a51a38f7ad81f9523360fafe7068\n")) << output_;
  EXPECT_TRUE(
      prints("getarguments(model):      {\"input_size\": 784, \"hidden_size\": 256, \"output_size\": 10, "
             "\"dropout\": 0.5, \"activation\": \"ReLU\"}\n"))
      << output_;
  EXPECT_TRUE(prints("getarguments(criterion):  {}\n")) << output_;
  EXPECT_TRUE(prints("getarguments(optimizer):  {\"lr\": 0.001}\n")) << output_;
  EXPECT_TRUE(prints("registry.keys():          [\"MLP\", \"GLU\"]\n")) << output_;
  const std::string signature =
      "{\"input_size\": \"int\", \"hidden_size\": \"int\", \"output_size\": \"int\", \"dropout\": \"float\", "
      "\"activation\": \"Module\"}\n";
  EXPECT_TRUE(prints("registry.signature(MLP): " + signature)) << output_;
  EXPECT_TRUE(prints("registry.signature(GLU): " + signature)) << output_;
  EXPECT_TRUE(prints("one training step:        loss ")) << output_;
}

TEST(Seed, ValuesInProcess) {
  ts::Registry<torch::nn::Module> registry;
  seed::register_seed_models(registry);
  auto model =
      ts::create<seed::MLP>(784, 256, 10, "dropout"_a = 0.5, "activation"_a = ts::create<torch::nn::ReLU>());
  auto criterion = ts::create<torch::nn::CrossEntropyLoss>();
  auto optimizer = ts::create<torch::optim::Adam>(model->parameters(), "lr"_a = 0.001);
  EXPECT_EQ(ts::gethash(model), "af51a51a38f7ad81f9523360fafe7068");
  EXPECT_EQ(ts::getarguments(criterion), ts::Json::object());
  EXPECT_EQ(ts::dumps(ts::getarguments(optimizer)), R"({"lr": 0.001})");
  EXPECT_EQ(registry.keys(), (std::vector<std::string>{"MLP", "GLU"}));
  EXPECT_EQ(registry.signature("GLU"), registry.signature("MLP"));

  // The same constructor call on GLU is another identity: the name is part of it.
  auto glu =
      registry.get("GLU")(784, 256, 10, "dropout"_a = 0.5, "activation"_a = ts::create<torch::nn::ReLU>());
  EXPECT_EQ(ts::getarguments(glu), ts::getarguments(model));
  EXPECT_NE(ts::gethash(glu), ts::gethash(model));
  EXPECT_EQ(ts::gethash(glu), ts::identity_hash("GLU", ts::getarguments(model)));
}

}  // namespace seed_test
