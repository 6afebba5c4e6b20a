// Save and load times of a checkpoint of about 100 MB through the store, for benchmarks/checkpoint_io.sh,
// which runs Python's torch.save/torch.load and cp on the same file in the same run.
//
//   checkpoint_io DIR REPEATS     prints {"save": [seconds...], "load": [seconds...], "path": ..., "bytes":
//   ...}
//
// The model is a catalog Linear(5000, 5000) (25 M float32 parameters, 100 MB) with SGD without momentum,
// whose state is empty, so the file is the weights. A save includes the store's fsync of the file and
// the directory (it is what makes the save durable); a load includes the CRC check of every record and
// the checks of every tensor against the model.
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/loss.h>
#include <torch/optim/sgd.h>
#include "torchsystem/checkpoint/store.hpp"

#include "torchsystem/torch.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: checkpoint_io DIR REPEATS\n";
    return 2;
  }
  const ts::CheckpointStore store(argv[1]);
  const int repeats = std::stoi(argv[2]);
  auto model = ts::create<torch::nn::Linear>(5000, 5000);
  auto criterion = ts::create<torch::nn::MSELoss>();
  auto optimizer = ts::create<torch::optim::SGD>(model->parameters(), "lr"_a = 0.1);
  const ts::Aggregate aggregate{model.ptr(), criterion.ptr(), optimizer};
  std::vector<double> saves, loads;
  ts::CheckpointInfo info;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto started = std::chrono::steady_clock::now();
    aggregate.set_epoch(repeat + 1);
    info = store.save(aggregate);
    const auto saved = std::chrono::steady_clock::now();
    store.load(aggregate);
    const auto loaded = std::chrono::steady_clock::now();
    saves.push_back(std::chrono::duration<double>(saved - started).count());
    loads.push_back(std::chrono::duration<double>(loaded - saved).count());
  }
  const auto list = [](const std::vector<double>& values) {
    std::string text = "[";
    for (const double value : values) text += (text.size() > 1 ? ", " : "") + std::to_string(value);
    return text + "]";
  };
  std::cout << "{\"save\": " << list(saves) << ", \"load\": " << list(loads) << ", \"path\": \""
            << info.path.string() << "\", \"bytes\": " << info.size << "}\n";
  return 0;
}
