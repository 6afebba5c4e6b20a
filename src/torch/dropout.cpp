// The one-pass dropout mask (see torchsystem/torch/dropout.hpp).
#include "torchsystem/torch/dropout.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/nn/functional/dropout.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

namespace torchsystem::nn {

namespace {

constexpr std::uint64_t golden_gamma = 0x9E3779B97F4A7C15ULL;

// SplitMix64's output function applied to a counter: word k of the stream seeded with `seed`.
std::uint64_t splitmix64(std::uint64_t seed, std::uint64_t k) {
  std::uint64_t z = seed + (k + 1) * golden_gamma;
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31U);
}

// One draw per call from LibTorch's default generator, so torch::manual_seed reproduces the masks.
std::uint64_t draw_seed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  const std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get<at::CPUGeneratorImpl>()->random64();
}

// Fills `mask` with `scale` where the element is kept and 0 where it is dropped. A 64-bit word gives the
// draws of elements 2k and 2k+1, so chunks start on even indices and any thread count gives one mask.
template <typename Scalar>
void fill_mask(Scalar* mask, std::int64_t count, std::uint64_t seed, std::uint64_t keep_below, Scalar scale) {
  const std::int64_t words = (count + 1) / 2;
  constexpr std::int64_t grain = 16384;
  at::parallel_for(0, words, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t k = begin; k < end; ++k) {
      const std::uint64_t bits = splitmix64(seed, static_cast<std::uint64_t>(k));
      const std::int64_t index = 2 * k;
      mask[index] = (bits & 0xFFFFFFFFULL) < keep_below ? scale : Scalar(0);
      if (index + 1 < count) mask[index + 1] = (bits >> 32U) < keep_below ? scale : Scalar(0);
    }
  });
}

void check_probability(double p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw std::invalid_argument("dropout probability has to be between 0 and 1, but got " +
                                std::to_string(p));
  }
}

}  // namespace

namespace functional {

torch::Tensor dropout(torch::Tensor input, double p, bool training, bool inplace) {
  check_probability(p);
  const bool fast = input.device().is_cpu() &&
                    (input.scalar_type() == torch::kFloat || input.scalar_type() == torch::kDouble);
  if (!fast) {
    return torch::nn::functional::dropout(
        input, torch::nn::functional::DropoutFuncOptions().p(p).inplace(inplace).training(training));
  }
  if (!training || p == 0.0) return input;
  if (p == 1.0) return inplace ? input.zero_() : input * 0;

  // keep_below = (1 - p) * 2^32: a 32-bit draw below it keeps its element.
  const auto keep_below = static_cast<std::uint64_t>((1.0 - p) * 4294967296.0);
  const double scale = 1.0 / (1.0 - p);
  auto mask = torch::empty(input.sizes(), input.options().requires_grad(false));
  const std::uint64_t seed = draw_seed();
  if (mask.scalar_type() == torch::kFloat) {
    fill_mask(mask.data_ptr<float>(), mask.numel(), seed, keep_below, static_cast<float>(scale));
  } else {
    fill_mask(mask.data_ptr<double>(), mask.numel(), seed, keep_below, scale);
  }
  return inplace ? input.mul_(mask) : input * mask;
}

}  // namespace functional

DropoutImpl::DropoutImpl(const torch::nn::DropoutOptions& options_) : options(options_) {
  reset();
}

torch::Tensor DropoutImpl::forward(torch::Tensor input) {
  return functional::dropout(std::move(input), options.p(), is_training(), options.inplace());
}

void DropoutImpl::reset() {
  check_probability(options.p());
}

void DropoutImpl::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "torchsystem::nn::Dropout(p=" << options.p()
         << ", inplace=" << options.inplace() << ")";
}

}  // namespace torchsystem::nn
