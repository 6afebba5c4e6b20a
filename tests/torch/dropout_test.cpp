// torchsystem::nn::Dropout: PyTorch's dropout semantics with the one-pass mask.
#include "torchsystem/torch/dropout.hpp"

#include <gtest/gtest.h>
#include <torch/nn/modules/dropout.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace {

namespace F = torchsystem::nn::functional;

TEST(Dropout, KeepsEachElementWithProbabilityOneMinusPAndScalesIt) {
  torch::manual_seed(1);
  const auto input = torch::ones({1000, 1001});  // odd count: the last word's second draw is unused
  for (const double p : {0.1, 0.5, 0.9}) {
    const auto output = F::dropout(input, p, true);
    const auto kept = output.ne(0);
    const double expected = 1.0 - p;
    const double fraction = kept.to(torch::kDouble).mean().item<double>();
    const double sigma = std::sqrt(p * (1.0 - p) / static_cast<double>(input.numel()));
    EXPECT_NEAR(fraction, expected, 6 * sigma) << "p=" << p;
    // Every kept element is scaled by 1 / (1 - p), every other one is exactly 0.
    EXPECT_TRUE(
        torch::allclose(output.masked_select(kept),
                        torch::full({kept.sum().item<std::int64_t>()}, static_cast<float>(1.0 / (1.0 - p)))));
  }
}

TEST(Dropout, NeighbouringElementsAndRowsAreIndependent) {
  torch::manual_seed(2);
  const auto kept = F::dropout(torch::ones({200000}), 0.5, true).ne(0).to(torch::kDouble);
  // Both draws of one 64-bit word: the pair (2k, 2k+1) and the pair across words (2k+1, 2k+2).
  const auto even = kept.slice(0, 0, 200000, 2), odd = kept.slice(0, 1, 200000, 2);
  const double within_word = (even * odd).mean().item<double>();
  const double across_words = (odd.slice(0, 0, 99999) * even.slice(0, 1, 100000)).mean().item<double>();
  const double sigma = std::sqrt(0.25 * 0.75 / 100000.0);
  EXPECT_NEAR(within_word, 0.25, 6 * sigma);
  EXPECT_NEAR(across_words, 0.25, 6 * sigma);
}

TEST(Dropout, ManualSeedReproducesTheMaskAndSuccessiveCallsDiffer) {
  const auto input = torch::randn({64, 256});
  torch::manual_seed(7);
  const auto first = F::dropout(input, 0.5, true);
  const auto second = F::dropout(input, 0.5, true);
  torch::manual_seed(7);
  EXPECT_TRUE(torch::equal(F::dropout(input, 0.5, true), first));
  EXPECT_FALSE(torch::equal(first, second));
}

TEST(Dropout, TheMaskDoesNotDependOnTheThreadCount) {
  const int threads = torch::get_num_threads();
  const auto input = torch::ones({1 << 20});
  torch::set_num_threads(1);
  torch::manual_seed(3);
  const auto one = F::dropout(input, 0.3, true);
  torch::set_num_threads(2);
  torch::manual_seed(3);
  const auto two = F::dropout(input, 0.3, true);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one, two));
}

TEST(Dropout, GradientIsTheScaledMask) {
  torch::manual_seed(4);
  const auto input = torch::randn({32, 16}, torch::requires_grad());
  const auto output = F::dropout(input, 0.25, true);
  output.sum().backward();
  const auto mask = output.detach() / input.detach();
  EXPECT_TRUE(torch::allclose(input.grad(), mask));
  EXPECT_TRUE(torch::allclose(input.grad().ne(0).to(torch::kFloat) / 0.75F, input.grad()));
}

TEST(Dropout, EvaluationAndZeroProbabilityReturnTheInputAndOneZeroesIt) {
  const auto input = torch::randn({8, 8});
  EXPECT_TRUE(F::dropout(input, 0.5, false).is_same(input));
  EXPECT_TRUE(F::dropout(input, 0.0, true).is_same(input));
  EXPECT_TRUE(torch::equal(F::dropout(input, 1.0, true), torch::zeros({8, 8})));
}

TEST(Dropout, DoubleTensorsAndInplace) {
  torch::manual_seed(5);
  auto input = torch::ones({100, 100}, torch::kDouble);
  const auto result = F::dropout(input, 0.5, true, /*inplace=*/true);
  EXPECT_TRUE(result.is_same(input));
  EXPECT_EQ(result.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::equal(result.ne(0), result.eq(2.0)));
}

TEST(Dropout, OtherDtypesGoToLibTorchsDropout) {
  const auto input = torch::ones({100, 100}, torch::kBFloat16);
  const auto output = F::dropout(input, 0.5, true);
  EXPECT_EQ(output.scalar_type(), torch::kBFloat16);
  EXPECT_GT(output.eq(0).sum().item<std::int64_t>(), 0);
}

TEST(Dropout, ModuleFollowsTrainAndEvalAndChecksP) {
  torchsystem::nn::Dropout dropout(torch::nn::DropoutOptions().p(0.5));
  const auto input = torch::ones({1000});
  EXPECT_GT(dropout(input).eq(0).sum().item<std::int64_t>(), 0);
  dropout->eval();
  EXPECT_TRUE(torch::equal(dropout(input), input));
  std::ostringstream printed;
  dropout->pretty_print(printed);
  EXPECT_EQ(printed.str(), "torchsystem::nn::Dropout(p=0.5, inplace=false)");
  EXPECT_TRUE(dropout->named_parameters().is_empty());
  EXPECT_THROW(torchsystem::nn::Dropout(1.5), std::invalid_argument);
  EXPECT_THROW(torchsystem::nn::Dropout(-0.1), std::invalid_argument);
  EXPECT_THROW(F::dropout(input, std::nan(""), true), std::invalid_argument);
}

}  // namespace
