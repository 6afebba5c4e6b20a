// The catalog's losses: each, built from a configuration with non-default arguments, computes what the
// same LibTorch loss built directly with the same options computes, and differs from the loss with
// PyTorch's defaults (so the arguments reached LibTorch). PyTorch's deprecated `size_average` and
// `reduce` stand for a reduction, as in PyTorch; a reduction PyTorch does not name is refused with the
// accepted ones.
#include <gtest/gtest.h>
#include <torch/nn/modules/loss.h>

#include <cmath>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torch_test_support.hpp"

namespace {

namespace ts = torchsystem;
namespace nn = torch::nn;

/// The message of the ArgumentError building `config_text` throws, or "" when it builds.
std::string build_error(std::string_view config_text) {
  try {
    ts::torch_catalog().losses.create(ts::parse_json(config_text));
  } catch (const ts::ArgumentError& error) {
    return error.what();
  }
  return "";
}

std::string config(std::string_view name, std::string_view arguments) {
  return R"({"name": ")" + std::string(name) + R"(", "arguments": )" + std::string(arguments) + "}";
}

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && torch::equal(a, b);
}

/// The catalog's loss computes exactly what the direct one does, and not what the default one does.
template <class H, class... T>
void expect_as_direct(H built, H direct, const T&... inputs) {
  const torch::Tensor got = built(inputs...);
  const torch::Tensor expected = direct(inputs...);
  EXPECT_TRUE(same(got, expected)) << got << "\nexpected\n" << expected;
  const torch::Tensor with_defaults = H()(inputs...);
  EXPECT_FALSE(got.sizes() == with_defaults.sizes() && torch::allclose(got, with_defaults))
      << "the arguments made no difference: " << got;
}

class CatalogLossesTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

TEST_F(CatalogLossesTest, CrossEntropyLoss) {
  auto built = torch_test::build<nn::CrossEntropyLoss>(R"({"name": "CrossEntropyLoss", "arguments":
      {"weight": [1.0, 2.0, 0.5], "ignore_index": 1, "reduction": "sum", "label_smoothing": 0.1}})");
  nn::CrossEntropyLoss direct(nn::CrossEntropyLossOptions()
                                  .weight(torch::tensor({1.0F, 2.0F, 0.5F}))
                                  .ignore_index(1)
                                  .reduction(torch::kSum)
                                  .label_smoothing(0.1));
  expect_as_direct(built, direct, torch::randn({4, 3}), torch::tensor({0, 1, 2, 0}, torch::kLong));
}

TEST_F(CatalogLossesTest, NLLLoss) {
  auto built = torch_test::build<nn::NLLLoss>(R"({"name": "NLLLoss", "arguments":
      {"weight": [1.0, 0.5, 2.0], "ignore_index": 2, "reduction": "sum"}})");
  nn::NLLLoss direct(
      nn::NLLLossOptions().weight(torch::tensor({1.0F, 0.5F, 2.0F})).ignore_index(2).reduction(torch::kSum));
  expect_as_direct(built, direct, torch::log_softmax(torch::randn({4, 3}), 1),
                   torch::tensor({0, 1, 2, 1}, torch::kLong));
}

TEST_F(CatalogLossesTest, MSELoss) {
  auto built = torch_test::build<nn::MSELoss>(R"({"name": "MSELoss", "arguments": {"reduction": "sum"}})");
  expect_as_direct(built, nn::MSELoss(nn::MSELossOptions(torch::kSum)), torch::randn({2, 3}),
                   torch::randn({2, 3}));
}

TEST_F(CatalogLossesTest, L1Loss) {
  auto built = torch_test::build<nn::L1Loss>(R"({"name": "L1Loss", "arguments": {"reduction": "none"}})");
  const auto input = torch::randn({2, 3});
  EXPECT_EQ(built(input, torch::zeros({2, 3})).sizes(), input.sizes());
  expect_as_direct(built, nn::L1Loss(nn::L1LossOptions(torch::kNone)), input, torch::randn({2, 3}));
}

TEST_F(CatalogLossesTest, SmoothL1Loss) {
  auto built = torch_test::build<nn::SmoothL1Loss>(
      R"({"name": "SmoothL1Loss", "arguments": {"reduction": "sum", "beta": 0.5}})");
  nn::SmoothL1Loss direct(nn::SmoothL1LossOptions(torch::kSum).beta(0.5));
  expect_as_direct(built, direct, torch::randn({3, 4}) * 2, torch::randn({3, 4}));
}

TEST_F(CatalogLossesTest, HuberLoss) {
  auto built = torch_test::build<nn::HuberLoss>(
      R"({"name": "HuberLoss", "arguments": {"reduction": "sum", "delta": 0.5}})");
  nn::HuberLoss direct(nn::HuberLossOptions(torch::kSum).delta(0.5));
  expect_as_direct(built, direct, torch::randn({3, 4}) * 2, torch::randn({3, 4}));
}

TEST_F(CatalogLossesTest, BCELoss) {
  auto built = torch_test::build<nn::BCELoss>(R"({"name": "BCELoss", "arguments":
      {"weight": [[1.0, 2.0, 0.5], [0.25, 1.0, 4.0]], "reduction": "sum"}})");
  nn::BCELoss direct(nn::BCELossOptions()
                         .weight(torch::tensor({1.0F, 2.0F, 0.5F, 0.25F, 1.0F, 4.0F}).view({2, 3}))
                         .reduction(torch::kSum));
  expect_as_direct(built, direct, torch::sigmoid(torch::randn({2, 3})), torch::rand({2, 3}));
}

TEST_F(CatalogLossesTest, BCEWithLogitsLoss) {
  auto built = torch_test::build<nn::BCEWithLogitsLoss>(R"({"name": "BCEWithLogitsLoss", "arguments":
      {"weight": [1.0, 2.0, 0.5], "reduction": "sum", "pos_weight": [2.0, 1.0, 0.25]}})");
  nn::BCEWithLogitsLoss direct(nn::BCEWithLogitsLossOptions()
                                   .weight(torch::tensor({1.0F, 2.0F, 0.5F}))
                                   .reduction(torch::kSum)
                                   .pos_weight(torch::tensor({2.0F, 1.0F, 0.25F})));
  expect_as_direct(built, direct, torch::randn({4, 3}), torch::randint(0, 2, {4, 3}).to(torch::kFloat));
}

TEST_F(CatalogLossesTest, KLDivLoss) {
  auto built = torch_test::build<nn::KLDivLoss>(
      R"({"name": "KLDivLoss", "arguments": {"reduction": "batchmean", "log_target": true}})");
  nn::KLDivLoss direct(nn::KLDivLossOptions(torch::kBatchMean).log_target(true));
  expect_as_direct(built, direct, torch::log_softmax(torch::randn({3, 5}), 1),
                   torch::log_softmax(torch::randn({3, 5}), 1));
}

TEST_F(CatalogLossesTest, CosineEmbeddingLoss) {
  auto built = torch_test::build<nn::CosineEmbeddingLoss>(
      R"({"name": "CosineEmbeddingLoss", "arguments": {"margin": 0.25, "reduction": "none"}})");
  nn::CosineEmbeddingLoss direct(nn::CosineEmbeddingLossOptions().margin(0.25).reduction(torch::kNone));
  expect_as_direct(built, direct, torch::randn({3, 4}), torch::randn({3, 4}),
                   torch::tensor({1.0F, -1.0F, -1.0F}));
}

TEST_F(CatalogLossesTest, MarginRankingLoss) {
  auto built = torch_test::build<nn::MarginRankingLoss>(
      R"({"name": "MarginRankingLoss", "arguments": {"margin": 0.5, "reduction": "sum"}})");
  nn::MarginRankingLoss direct(nn::MarginRankingLossOptions().margin(0.5).reduction(torch::kSum));
  expect_as_direct(built, direct, torch::randn({4}), torch::randn({4}),
                   torch::tensor({1.0F, -1.0F, 1.0F, -1.0F}));
}

TEST_F(CatalogLossesTest, HingeEmbeddingLoss) {
  auto built = torch_test::build<nn::HingeEmbeddingLoss>(
      R"({"name": "HingeEmbeddingLoss", "arguments": {"margin": 2.0, "reduction": "none"}})");
  nn::HingeEmbeddingLoss direct(nn::HingeEmbeddingLossOptions().margin(2.0).reduction(torch::kNone));
  expect_as_direct(built, direct, torch::rand({4}), torch::tensor({1.0F, -1.0F, -1.0F, 1.0F}));
}

TEST_F(CatalogLossesTest, TripletMarginLoss) {
  auto built = torch_test::build<nn::TripletMarginLoss>(R"({"name": "TripletMarginLoss", "arguments":
      {"margin": 0.5, "p": 1.0, "eps": 1e-05, "swap": true, "reduction": "sum"}})");
  nn::TripletMarginLoss direct(
      nn::TripletMarginLossOptions().margin(0.5).p(1.0).eps(1e-5).swap(true).reduction(torch::kSum));
  expect_as_direct(built, direct, torch::randn({3, 4}), torch::randn({3, 4}), torch::randn({3, 4}));
}

TEST_F(CatalogLossesTest, PoissonNLLLoss) {
  auto built = torch_test::build<nn::PoissonNLLLoss>(R"({"name": "PoissonNLLLoss", "arguments":
      {"log_input": false, "full": true, "eps": 1e-06, "reduction": "sum"}})");
  nn::PoissonNLLLoss direct(
      nn::PoissonNLLLossOptions().log_input(false).full(true).eps(1e-6).reduction(torch::kSum));
  expect_as_direct(built, direct, torch::rand({2, 3}) + 0.1,
                   torch::tensor({0.0F, 1.0F, 3.0F, 2.0F, 5.0F, 1.0F}).view({2, 3}));
}

TEST_F(CatalogLossesTest, SoftMarginLoss) {
  auto built = torch_test::build<nn::SoftMarginLoss>(
      R"({"name": "SoftMarginLoss", "arguments": {"reduction": "sum"}})");
  expect_as_direct(built, nn::SoftMarginLoss(nn::SoftMarginLossOptions(torch::kSum)), torch::randn({2, 3}),
                   torch::tensor({1.0F, -1.0F, 1.0F, -1.0F, -1.0F, 1.0F}).view({2, 3}));
}

TEST_F(CatalogLossesTest, MultiLabelMarginLoss) {
  auto built = torch_test::build<nn::MultiLabelMarginLoss>(
      R"({"name": "MultiLabelMarginLoss", "arguments": {"reduction": "none"}})");
  const auto input = torch::randn({2, 4});
  const auto target = torch::tensor({3, 0, -1, 1, 1, 2, -1, 0}, torch::kLong).view({2, 4});
  EXPECT_EQ(built(input, target).sizes(), torch::IntArrayRef({2}));
  expect_as_direct(built, nn::MultiLabelMarginLoss(nn::MultiLabelMarginLossOptions(torch::kNone)), input,
                   target);
}

TEST_F(CatalogLossesTest, MultiLabelSoftMarginLoss) {
  auto built = torch_test::build<nn::MultiLabelSoftMarginLoss>(R"({"name": "MultiLabelSoftMarginLoss",
      "arguments": {"weight": [1.0, 2.0, 0.5, 1.0], "reduction": "sum"}})");
  nn::MultiLabelSoftMarginLoss direct(nn::MultiLabelSoftMarginLossOptions()
                                          .weight(torch::tensor({1.0F, 2.0F, 0.5F, 1.0F}))
                                          .reduction(torch::kSum));
  expect_as_direct(built, direct, torch::randn({2, 4}), torch::randint(0, 2, {2, 4}).to(torch::kFloat));
}

TEST_F(CatalogLossesTest, MultiMarginLoss) {
  auto built = torch_test::build<nn::MultiMarginLoss>(R"({"name": "MultiMarginLoss", "arguments":
      {"p": 2, "margin": 0.5, "weight": [1.0, 2.0, 0.5], "reduction": "sum"}})");
  nn::MultiMarginLoss direct(nn::MultiMarginLossOptions()
                                 .p(2)
                                 .margin(0.5)
                                 .weight(torch::tensor({1.0F, 2.0F, 0.5F}))
                                 .reduction(torch::kSum));
  expect_as_direct(built, direct, torch::randn({4, 3}), torch::tensor({0, 1, 2, 1}, torch::kLong));
}

TEST_F(CatalogLossesTest, CTCLoss) {
  auto built = torch_test::build<nn::CTCLoss>(
      R"({"name": "CTCLoss", "arguments": {"blank": 1, "reduction": "sum", "zero_infinity": true}})");
  nn::CTCLoss direct(nn::CTCLossOptions().blank(1).reduction(torch::kSum).zero_infinity(true));
  // Six time steps, a batch of two, four classes (1 is the blank); the second target cannot be aligned in
  // two steps, so its infinite loss is zeroed.
  const auto log_probs = torch::log_softmax(torch::randn({6, 2, 4}), 2);
  const auto targets = torch::tensor({2, 3, 2, 3, 2, 3}, torch::kLong).view({2, 3});
  const auto input_lengths = torch::tensor({6, 2}, torch::kLong);
  const auto target_lengths = torch::tensor({3, 3}, torch::kLong);
  const auto loss = built(log_probs, targets, input_lengths, target_lengths);
  EXPECT_TRUE(std::isfinite(loss.item<float>()));
  expect_as_direct(built, direct, log_probs, targets, input_lengths, target_lengths);
}

// Every loss but HuberLoss and CTCLoss keeps PyTorch's deprecated size_average and reduce; given, they
// replace `reduction` as PyTorch's _Reduction.legacy_get_string does (None counts as true).
TEST_F(CatalogLossesTest, DeprecatedSizeAverageAndReduceStandForAReduction) {
  const std::vector<std::pair<std::string, torch::nn::MSELossOptions::reduction_t>> cases = {
      {R"({"size_average": false})", torch::kSum},
      {R"({"size_average": false, "reduction": "none"})", torch::kSum},
      {R"({"reduce": false, "reduction": "sum"})", torch::kNone},
      {R"({"size_average": true, "reduce": false})", torch::kNone},
      {R"({"size_average": true, "reduction": "sum"})", torch::kMean},
      {R"({"reduce": true, "reduction": "none"})", torch::kMean},
      {R"({"size_average": null, "reduce": null, "reduction": "sum"})", torch::kSum},
  };
  const torch::Tensor input = torch::randn({3, 4}), target = torch::randn({3, 4});
  for (const auto& [arguments, reduction] : cases) {
    auto built = torch_test::build<nn::MSELoss>(config("MSELoss", arguments));
    EXPECT_TRUE(
        same(built(input, target), nn::MSELoss(nn::MSELossOptions().reduction(reduction))(input, target)))
        << arguments;
  }
  auto margin = torch_test::build<nn::MarginRankingLoss>(
      config("MarginRankingLoss", R"({"margin": 0.5, "size_average": false})"));
  EXPECT_TRUE(c10::get_if<torch::enumtype::kSum>(&margin->options.reduction()));
  auto nll = torch_test::build<nn::NLLLoss>(config("NLLLoss", R"({"reduce": false})"));
  EXPECT_TRUE(c10::get_if<torch::enumtype::kNone>(&nll->options.reduction()));

  const std::vector<std::string> names = {"CrossEntropyLoss",
                                          "NLLLoss",
                                          "MSELoss",
                                          "L1Loss",
                                          "SmoothL1Loss",
                                          "BCELoss",
                                          "BCEWithLogitsLoss",
                                          "KLDivLoss",
                                          "CosineEmbeddingLoss",
                                          "MarginRankingLoss",
                                          "HingeEmbeddingLoss",
                                          "TripletMarginLoss",
                                          "PoissonNLLLoss",
                                          "SoftMarginLoss",
                                          "MultiLabelMarginLoss",
                                          "MultiLabelSoftMarginLoss",
                                          "MultiMarginLoss"};
  for (const auto& name : names) {
    for (const std::string parameter : {"size_average", "reduce"})
      EXPECT_EQ(build_error(config(name, R"({")" + parameter + R"(": false})")), "")
          << name << "." << parameter;
  }
  // PyTorch's HuberLoss and CTCLoss have neither.
  EXPECT_NE(build_error(config("HuberLoss", R"({"size_average": true})")), "");
  EXPECT_NE(build_error(config("CTCLoss", R"({"reduce": true})")), "");
}

TEST_F(CatalogLossesTest, UnknownReductionListsPyTorchsOnes) {
  const std::vector<std::string> names = {"CrossEntropyLoss",
                                          "NLLLoss",
                                          "MSELoss",
                                          "L1Loss",
                                          "SmoothL1Loss",
                                          "HuberLoss",
                                          "BCELoss",
                                          "BCEWithLogitsLoss",
                                          "CosineEmbeddingLoss",
                                          "MarginRankingLoss",
                                          "HingeEmbeddingLoss",
                                          "TripletMarginLoss",
                                          "PoissonNLLLoss",
                                          "SoftMarginLoss",
                                          "MultiLabelMarginLoss",
                                          "MultiLabelSoftMarginLoss",
                                          "MultiMarginLoss",
                                          "CTCLoss"};
  for (const auto& name : names) {
    const std::string message = build_error(config(name, R"({"reduction": "batchmean"})"));
    EXPECT_NE(message.find(name + R"(.reduction: expected one of "none", "mean", "sum", got "batchmean")"),
              std::string::npos)
        << message;
  }
  const std::string message = build_error(config("KLDivLoss", R"({"reduction": "average"})"));
  EXPECT_NE(message.find(
                R"(KLDivLoss.reduction: expected one of "none", "batchmean", "sum", "mean", got "average")"),
            std::string::npos)
      << message;
}

TEST_F(CatalogLossesTest, WeightsAreRecordedAsGiven) {
  auto loss = torch_test::build<nn::NLLLoss>(R"({"name": "NLLLoss", "arguments": {"weight": [0.5, 2.0]}})");
  EXPECT_TRUE(same(loss->options.weight(), torch::tensor({0.5F, 2.0F})));
  auto unweighted = torch_test::build<nn::NLLLoss>(R"({"name": "NLLLoss", "arguments": {"weight": null}})");
  EXPECT_FALSE(unweighted->options.weight().defined());
}

}  // namespace
