// The catalog's Adam updates in one pass (src/torch/fused_adam.hpp): its steps agree with LibTorch's Adam
// bit for bit, with and without weight decay and amsgrad; other tensors take LibTorch's own step.
#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <vector>

#include "torchsystem/torch.hpp"

namespace fused_adam_test {

namespace ts = torchsystem;
using namespace ts::literals;

std::vector<torch::Tensor> parameters(c10::ScalarType type) {
  torch::manual_seed(3);
  return {torch::randn({64, 33}, type).requires_grad_(), torch::randn({7}, type).requires_grad_(),
          torch::randn({}, type).requires_grad_()};
}

/// Steps both optimizers on the same gradients; the largest difference relative to the values.
double steps_apart(torch::optim::Optimizer& ours, const std::vector<torch::Tensor>& mine,
                   torch::optim::Optimizer& libtorchs, const std::vector<torch::Tensor>& theirs, int steps) {
  for (int step = 0; step < steps; ++step) {
    torch::manual_seed(100 + step);
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const torch::Tensor grad = torch::randn(mine[i].sizes(), mine[i].scalar_type());
      mine[i].mutable_grad() = grad.clone();
      theirs[i].mutable_grad() = grad.clone();
    }
    ours.step();
    libtorchs.step();
  }
  double worst = 0;
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const double scale = std::max(1.0, theirs[i].abs().max().item<double>());
    worst = std::max(worst, (mine[i] - theirs[i]).abs().max().item<double>() / scale);
  }
  return worst;
}

TEST(FusedAdam, StepsAsLibTorchsAdamBitForBit) {
  for (const bool amsgrad : {false, true}) {
    for (const double weight_decay : {0.0, 0.01}) {
      SCOPED_TRACE(std::string("amsgrad ") + (amsgrad ? "on" : "off") + ", weight decay " +
                   std::to_string(weight_decay));
      const auto mine = parameters(torch::kFloat), theirs = parameters(torch::kFloat);
      auto ours = ts::create<torch::optim::Adam>(mine, "lr"_a = 0.01, "weight_decay"_a = weight_decay,
                                                 "amsgrad"_a = amsgrad);
      torch::optim::Adam libtorchs(
          theirs, torch::optim::AdamOptions(0.01).weight_decay(weight_decay).amsgrad(amsgrad));
      EXPECT_EQ(steps_apart(*ours, mine, libtorchs, theirs, 20), 0.0) << "bit for bit";
      // The state is LibTorch's, step for step.
      const auto key = c10::guts::to_string(mine[0].unsafeGetTensorImpl());
      const auto& state = static_cast<const torch::optim::AdamParamState&>(*ours->state().at(key));
      EXPECT_EQ(state.step(), 20);
      EXPECT_EQ(state.max_exp_avg_sq().defined(), amsgrad);
    }
  }
}

TEST(FusedAdam, ParametersItDoesNotFuseTakeLibTorchsStepExactly) {
  const auto mine = parameters(torch::kDouble), theirs = parameters(torch::kDouble);
  auto ours = ts::create<torch::optim::Adam>(mine, "lr"_a = 0.01, "weight_decay"_a = 0.01);
  torch::optim::Adam libtorchs(theirs, torch::optim::AdamOptions(0.01).weight_decay(0.01));
  EXPECT_EQ(steps_apart(*ours, mine, libtorchs, theirs, 5), 0.0);
}

TEST(FusedAdam, MaximizesAndStepsWithAClosure) {
  const auto mine = parameters(torch::kFloat), theirs = parameters(torch::kFloat);
  auto ours = ts::create<torch::optim::Adam>(mine, "lr"_a = 0.01, "maximize"_a = true);
  torch::optim::Adam libtorchs(theirs, torch::optim::AdamOptions(0.01));
  for (int step = 0; step < 5; ++step) {
    // Maximizing x.sum() is minimizing -x.sum().
    const torch::Tensor loss = ours->step([&] {
      ours->zero_grad();
      torch::Tensor value = mine[0].sum() + mine[1].sum() + mine[2];
      value.backward();
      return value;
    });
    EXPECT_TRUE(loss.defined());
    libtorchs.zero_grad();
    (-(theirs[0].sum() + theirs[1].sum() + theirs[2])).backward();
    libtorchs.step();
  }
  for (std::size_t i = 0; i < mine.size(); ++i) EXPECT_TRUE(torch::allclose(mine[i], theirs[i], 1e-6, 1e-6));
}

}  // namespace fused_adam_test
