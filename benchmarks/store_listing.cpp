// Listing a store of many checkpoints, for benchmarks/store_listing.sh.
//
//   store_listing generate DIR COUNT WIDTH   saves COUNT checkpoints of a catalog Linear(WIDTH, WIDTH)
//                                            with SGD (no state), each under its own hash (sethash)
//   store_listing list DIR [full]            lists DIR through CheckpointStore::list and prints
//                                            {"checkpoints": N, "seconds": S, "bytes": B}
//
// The listing is timed inside the process, so the figure is the listing alone, without LibTorch's
// start-up; the script also times `torchsystem checkpoints` as a whole.
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/loss.h>
#include <torch/optim/sgd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/torch.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

namespace {

int generate(const ts::CheckpointStore& store, long count, long width) {
  auto model = ts::create<torch::nn::Linear>(width, width);
  auto criterion = ts::create<torch::nn::MSELoss>();
  auto optimizer = ts::create<torch::optim::SGD>(model->parameters(), "lr"_a = 0.1);
  const ts::Aggregate aggregate{model.ptr(), criterion.ptr(), optimizer, 1};
  const ts::Json extra = {
      {"history", ts::Json::array({{{"epoch", 1}, {"loss", 0.5}, {"test_accuracy", 0.8}}})}};
  for (long index = 0; index < count; ++index) {
    char hash[33];
    std::snprintf(hash, sizeof hash, "%032lx", index);
    ts::sethash(model, std::string(hash));
    store.save(aggregate, extra);
  }
  return 0;
}

int list(const ts::CheckpointStore& store, bool full) {
  const auto started = std::chrono::steady_clock::now();
  const auto checkpoints =
      store.list(false, nullptr, full ? ts::CheckpointCheck::full : ts::CheckpointCheck::metadata);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::uintmax_t bytes = 0;
  for (const auto& checkpoint : checkpoints) bytes += checkpoint.size;
  std::cout << "{\"checkpoints\": " << checkpoints.size() << ", \"seconds\": " << seconds
            << ", \"bytes\": " << bytes << "}\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view command = argc > 2 ? argv[1] : "";
  if (command == "generate" && argc == 5)
    return generate(ts::CheckpointStore(argv[2]), std::stol(argv[3]), std::stol(argv[4]));
  if (command == "list" && (argc == 3 || (argc == 4 && std::string_view(argv[3]) == "full")))
    return list(ts::CheckpointStore(argv[2]), argc == 4);
  std::cerr << "usage: store_listing generate DIR COUNT WIDTH | store_listing list DIR [full]\n";
  return 2;
}
