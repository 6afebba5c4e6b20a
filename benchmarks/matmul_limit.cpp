// The floor under one epoch of the main job: its matrix products alone, forward and backward, measured
// directly with LibTorch on the job's shapes (the seed's MLP, 784 -> 256 -> 10, batches of 64, 60,000
// samples). For benchmarks/train_side_by_side.sh, which reports the job's epoch as a multiple of it.
//
//   matmul_limit THREADS REPEATS     prints the best of REPEATS epochs' products, in seconds
#include <ATen/Functions.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: matmul_limit THREADS REPEATS\n");
    return 2;
  }
  at::set_num_threads(std::stoi(argv[1]));
  const int repeats = std::stoi(argv[2]);
  constexpr std::int64_t samples = 60000, batch = 64, input = 784, hidden = 256, output = 10;
  const at::Tensor x = at::rand({batch, input});
  const at::Tensor w1 = at::rand({hidden, input}), b1 = at::rand({hidden});
  const at::Tensor w2 = at::rand({output, hidden}), b2 = at::rand({output});
  const at::Tensor grad_out = at::rand({batch, output});
  double best = 1e9;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto started = std::chrono::steady_clock::now();
    for (std::int64_t from = 0; from < samples; from += batch) {
      // Forward: the two linear layers. Backward: the weights' gradients and the hidden layer's.
      const at::Tensor h = at::addmm(b1, x, w1.t());
      const at::Tensor o = at::addmm(b2, h, w2.t());
      const at::Tensor grad_w2 = at::mm(grad_out.t(), h);
      const at::Tensor grad_h = at::mm(grad_out, w2);
      const at::Tensor grad_w1 = at::mm(grad_h.t(), x);
      (void)o;
      (void)grad_w1;
    }
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  std::printf("%.4f\n", best);
  return 0;
}
