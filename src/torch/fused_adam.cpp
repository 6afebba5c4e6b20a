// Adam's update in one pass (fused_adam.hpp). The per-element arithmetic follows LibTorch 1.13's
// Adam::step operation by operation, in float as its CPU kernels compute it, so the results are equal.
#include "fused_adam.hpp"

#include <ATen/Parallel.h>
#include <c10/util/irange.h>
#include <torch/utils.h>

#include <cmath>
#include <memory>

namespace torchsystem::optim {
namespace {

struct Scalars {
  float weight_decay, keep1, take1, keep2, take2, root_correction2, eps, step_size;
};

/// The update of one parameter. ATen's CPU kernels compute `add_(other, alpha)` and `addcmul_` with fused
/// multiply-adds, so this does too, which makes it agree with LibTorch's Adam bit for bit. Compiled for
/// AVX2 and FMA (checked at run time: vector_unit_available) and vectorized by the compiler (CMakeLists.txt
/// gives this unit -O3 and -fno-math-errno, so that sqrt vectorizes); the branches are template
/// parameters, so that each loop is straight-line.
template <bool decay, bool amsgrad>
__attribute__((target("avx2,fma"))) void update_range(float* __restrict p, const float* __restrict g,
                                                      float* __restrict m, float* __restrict v,
                                                      float* __restrict v_max, std::int64_t begin,
                                                      std::int64_t end, const Scalars s) {
  for (std::int64_t i = begin; i < end; ++i) {
    const float grad = decay ? std::fma(s.weight_decay, p[i], g[i]) : g[i];  // grad.add(p, weight_decay)
    const float first = std::fma(s.take1, grad, m[i] * s.keep1);  // exp_avg.mul_(beta1).add_(grad, 1 - beta1)
    const float second =
        std::fma(s.take2 * grad, grad, v[i] * s.keep2);  // exp_avg_sq.mul_(beta2).addcmul_(...)
    m[i] = first;
    v[i] = second;
    float moment = second;
    if constexpr (amsgrad) moment = v_max[i] = std::max(v_max[i], second);  // max_out(max_exp_avg_sq, ...)
    const float denominator = std::sqrt(moment) / s.root_correction2 + s.eps;
    p[i] = p[i] + s.step_size * first / denominator;  // param.addcdiv_(exp_avg, denom, -step_size)
  }
}

template <bool decay, bool amsgrad>
void update(float* p, const float* g, float* m, float* v, float* v_max, std::int64_t size, const Scalars s) {
  at::parallel_for(0, size, 32768, [&](std::int64_t begin, std::int64_t end) {
    update_range<decay, amsgrad>(p, g, m, v, v_max, begin, end, s);
  });
}

void update(float* p, const float* g, float* m, float* v, float* v_max, std::int64_t size, const Scalars s) {
  const bool decay = s.weight_decay != 0;
  if (decay && v_max) return update<true, true>(p, g, m, v, v_max, size, s);
  if (decay) return update<true, false>(p, g, m, v, v_max, size, s);
  if (v_max) return update<false, true>(p, g, m, v, v_max, size, s);
  update<false, false>(p, g, m, v, v_max, size, s);
}

bool vector_unit_available() {
  static const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return available;
}

bool fusable(const torch::Tensor& parameter, const torch::Tensor& grad) {
  return parameter.device().is_cpu() && parameter.scalar_type() == at::kFloat &&
         grad.scalar_type() == at::kFloat && !grad.is_sparse() && parameter.is_contiguous() &&
         grad.is_contiguous() && grad.sizes() == parameter.sizes();
}

}  // namespace

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) {
    const at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  const torch::NoGradGuard no_grad;
  bool fused_all = true;
  for (auto& group : param_groups_) {
    for (auto& parameter : group.params()) {
      if (parameter.grad().defined() && !fusable(parameter, parameter.grad())) fused_all = false;
    }
  }
  // A parameter this pass does not handle: LibTorch's step for the whole optimizer, as it was.
  if (!fused_all || !vector_unit_available()) return torch::optim::Adam::step(nullptr), loss;

  for (auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    for (auto& parameter : group.params()) {
      if (!parameter.grad().defined()) continue;
      const std::string key = c10::guts::to_string(parameter.unsafeGetTensorImpl());
      auto found = state_.find(key);
      if (found == state_.end()) {
        auto state = std::make_unique<torch::optim::AdamParamState>();
        state->step(0);
        state->exp_avg(torch::zeros_like(parameter, at::MemoryFormat::Contiguous));
        state->exp_avg_sq(torch::zeros_like(parameter, at::MemoryFormat::Contiguous));
        if (options.amsgrad())
          state->max_exp_avg_sq(torch::zeros_like(parameter, at::MemoryFormat::Contiguous));
        found = state_.emplace(key, std::move(state)).first;
      }
      auto& state = static_cast<torch::optim::AdamParamState&>(*found->second);
      state.step(state.step() + 1);
      const auto [beta1, beta2] = options.betas();
      const double correction1 = 1 - std::pow(beta1, static_cast<double>(state.step()));
      const double correction2 = 1 - std::pow(beta2, static_cast<double>(state.step()));
      // The scalars as LibTorch's float kernels take them.
      const auto weight_decay = static_cast<float>(options.weight_decay());
      const auto keep1 = static_cast<float>(beta1), take1 = static_cast<float>(1 - beta1);
      const auto keep2 = static_cast<float>(beta2), take2 = static_cast<float>(1 - beta2);
      const auto root_correction2 = static_cast<float>(std::sqrt(correction2));
      const auto eps = static_cast<float>(options.eps());
      const auto step_size = static_cast<float>(-(options.lr() / correction1));
      float* p = parameter.data_ptr<float>();
      const float* g = parameter.grad().data_ptr<float>();
      float* m = state.exp_avg().data_ptr<float>();
      float* v = state.exp_avg_sq().data_ptr<float>();
      float* v_max = options.amsgrad() ? state.max_exp_avg_sq().data_ptr<float>() : nullptr;
      update(p, g, m, v, v_max, parameter.numel(),
             {weight_decay, keep1, take1, keep2, take2, root_correction2, eps, step_size});
    }
  }
  return loss;
}

}  // namespace torchsystem::optim
