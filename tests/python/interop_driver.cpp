// The C++ side of the checkpoint round trips with real PyTorch (tests/python/interop_test.py).
//
//   interop_driver save CASE STORE     trains 3 steps and saves the checkpoint (epoch 3) in STORE
//   interop_driver resume CASE STORE OUT
//       loads CASE's checkpoint from STORE through the store, then writes OUT (torch.save's format):
//       {"epoch", "output": the eval-mode forward of the fixed input, "state": the model's state dict
//       after one more optimizer step on the fixed batch}
//
// Each case is a model, a loss and an optimizer named by configuration, as Python builds them in the
// test script; the inputs are computed the same way in both languages.
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/utils.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "seed_models.hpp"
#include "state_dict.hpp"
#include "torch_save.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch.hpp"

namespace ts = torchsystem;
namespace td = torchsystem::checkpoint_detail;

namespace {

/// Linear, BatchNorm1d, ReLU, Linear: a model with buffers (running statistics, num_batches_tracked).
class BNNetImpl : public torch::nn::Module {
 public:
  BNNetImpl(std::int64_t input_size, std::int64_t hidden_size, std::int64_t output_size)
      : input_layer(register_module("input_layer", torch::nn::Linear(input_size, hidden_size))),
        norm(register_module("norm", torch::nn::BatchNorm1d(hidden_size))),
        output_layer(register_module("output_layer", torch::nn::Linear(hidden_size, output_size))) {}
  torch::Tensor forward(torch::Tensor input) { return output_layer(torch::relu(norm(input_layer(input)))); }

 private:
  torch::nn::Linear input_layer;
  torch::nn::BatchNorm1d norm;
  torch::nn::Linear output_layer;
};
TORCH_MODULE(BNNet);

/// An LSTM over a sequence, then a Linear on its last step.
class LSTMNetImpl : public torch::nn::Module {
 public:
  LSTMNetImpl(std::int64_t input_size, std::int64_t hidden_size, std::int64_t output_size)
      : lstm(register_module(
            "lstm", torch::nn::LSTM(torch::nn::LSTMOptions(input_size, hidden_size).batch_first(true)))),
        head(register_module("head", torch::nn::Linear(hidden_size, output_size))) {}
  torch::Tensor forward(torch::Tensor input) { return head(std::get<0>(lstm(input)).select(1, -1)); }

 private:
  torch::nn::LSTM lstm;
  torch::nn::Linear head;
};
TORCH_MODULE(LSTMNet);

const ts::Registry<torch::nn::Module>& models() {
  static ts::Registry<torch::nn::Module> registry("interop models");
  static const bool registered = [] {
    seed::register_seed_models(registry);
    registry.register_class<BNNet(std::int64_t, std::int64_t, std::int64_t)>("input_size", "hidden_size",
                                                                             "output_size");
    registry.register_class<LSTMNet(std::int64_t, std::int64_t, std::int64_t)>("input_size", "hidden_size",
                                                                               "output_size");
    registry.include(ts::torch_catalog().modules);
    return true;
  }();
  (void)registered;
  return registry;
}

/// The same inputs as interop_test.py's `inputs`: sin of an arange, and targets cycling through 4 classes.
std::pair<torch::Tensor, torch::Tensor> inputs(const ts::Json& config, std::int64_t offset) {
  const std::int64_t batch = 8;
  std::vector<std::int64_t> shape = {batch};
  for (const auto& size : config["input_shape"]) shape.push_back(size.get<std::int64_t>());
  std::int64_t numel = 1;
  for (const auto size : shape) numel *= size;
  const torch::Tensor x = (torch::arange(offset, offset + numel, torch::kFloat) * 0.37).sin().reshape(shape);
  const torch::Tensor y = torch::arange(batch, torch::kLong).remainder(4);
  return {x, y};
}

struct Built {
  torch::nn::AnyModule model;
  torch::nn::AnyModule criterion;
  std::shared_ptr<torch::optim::Optimizer> optimizer;
  ts::Aggregate aggregate(std::int64_t epoch = 0) const {
    return {model.ptr(), criterion.ptr(), optimizer, epoch};
  }
};

Built build(const ts::Json& config) {
  torch::manual_seed(0);
  Built built;
  built.model = models().create_as<torch::nn::AnyModule>(config["model"]);
  built.criterion = ts::torch_catalog().losses.create_as<torch::nn::AnyModule>(config["criterion"]);
  built.optimizer =
      ts::torch_catalog().optimizers.create(config["optimizer"], built.model.ptr()->parameters());
  return built;
}

torch::Tensor train_step(Built& built, const torch::Tensor& x, const torch::Tensor& y) {
  built.model.ptr()->train();
  return built.optimizer->step([&] {
    built.optimizer->zero_grad();
    torch::Tensor loss = built.criterion.forward(built.model.forward(x), y);
    loss.backward();
    return loss;
  });
}

int save(const ts::Json& config, const std::string& store) {
  Built built = build(config);
  for (std::int64_t step = 0; step < 3; ++step) {
    const auto [x, y] = inputs(config, 100 * step);
    train_step(built, x, y);
  }
  const auto info = ts::CheckpointStore(store).save(built.aggregate(3));
  std::cout << info.path.string() << "\n";
  return 0;
}

int resume(const ts::Json& config, const std::string& store, const std::string& out) {
  Built built = build(config);
  const auto found = ts::CheckpointStore(store).load(built.aggregate());
  if (!found) {
    std::cerr << "no checkpoint of this identity in " << store << "\n";
    return 1;
  }
  const auto [x, y] = inputs(config, 1000);
  torch::Tensor output;
  {
    built.model.ptr()->eval();
    const torch::NoGradGuard no_grad;
    output = built.model.forward(x);
  }
  train_step(built, x, y);

  td::PyTree tree;
  td::TensorTable tensors;
  td::PyNode* root = tree.dict();
  tree.set(root, "epoch", tree.integer(found->epoch));
  tree.set(root, "output", tensors.add(tree, output));
  tree.set(root, "state", td::module_state_dict(tree, tensors, ts::module_state(*built.model.ptr())));
  tree.root = root;
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(out.c_str());
    return 1;
  }
  td::write_torch_save(tree, tensors, [fd](const void* data, std::size_t size) -> std::size_t {
    const ssize_t wrote = ::write(fd, data, size);
    return wrote < 0 ? 0 : static_cast<std::size_t>(wrote);
  });
  return ::close(fd) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "save" && argc == 4) return save(ts::parse_json(argv[2]), argv[3]);
    if (command == "resume" && argc == 5) return resume(ts::parse_json(argv[2]), argv[3], argv[4]);
    std::cerr << "usage: interop_driver save CONFIG STORE | resume CONFIG STORE OUT\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "interop_driver: " << error.what() << "\n";
    return 1;
  }
}
