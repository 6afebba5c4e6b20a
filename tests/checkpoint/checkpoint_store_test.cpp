// The checkpoint store keyed by identity: exact round trips, self-describing archives, identity checks,
// damaged files, name validation, atomicity under SIGKILL, listing, and `torchsystem checkpoints`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/loss.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/modules/transformerlayer.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/lbfgs.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.hpp"
#include "seed_models.hpp"
#include "state_dict.hpp"
#include "temp_dir.hpp"
#include "torch_save.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch.hpp"
#include "zip_crc.hpp"

namespace checkpoint_store_test {

namespace ts = torchsystem;
namespace fs = std::filesystem;
using namespace ts::literals;

void register_models() {
  static const bool registered = [] {
    static ts::Registry<torch::nn::Module> registry("checkpoint store test models");
    seed::register_seed_models(registry);
    return true;
  }();
  (void)registered;
}

using test_files::TempDir;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::vector<std::string> entries(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// Saves the aggregate as the store did before torch.save's format: `<name>-<hash>.pt`, a LibTorch
/// archive with the records model, criterion, optimizer and metadata (torchsystem-checkpoint/1). The
/// store still loads such files; their checks are tested on files written here.
fs::path save_legacy(const ts::CheckpointStore& store, const ts::Aggregate& aggregate, std::int64_t epoch,
                     const ts::Json& extra = ts::Json::object()) {
  ts::Json metadata = ts::Json::object();
  metadata["format"] = "torchsystem-checkpoint/1";
  metadata["model"] = ts::entity_metadata(aggregate.model().module());
  metadata["criterion"] = ts::entity_metadata(aggregate.criterion());
  metadata["optimizer"] = ts::entity_metadata(aggregate.optimizer_ptr());
  metadata["epoch"] = epoch;
  metadata["extra"] = extra;
  torch::serialize::OutputArchive archive;
  for (const auto& [key, module] :
       {std::pair{"model", aggregate.model().module()}, std::pair{"criterion", aggregate.criterion()}}) {
    torch::serialize::OutputArchive part(archive.compilation_unit());
    module->save(part);
    archive.write(key, part);
  }
  torch::serialize::OutputArchive optimizer(archive.compilation_unit());
  aggregate.optimizer().save(optimizer);
  archive.write("optimizer", optimizer);
  archive.write("metadata", c10::IValue(ts::dumps(metadata)));
  fs::create_directories(store.directory());
  fs::path path = store.path_for(aggregate.name(), aggregate.hash());
  path.replace_extension(".pt");
  // Written through a function, as the store wrote it: the records lie under `archive/`.
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  archive.save_to([&](const void* data, std::size_t size) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    return size;
  });
  return path;
}

/// A model, its loss and its optimizer, all created through the library.
struct Trainee {
  torch::nn::AnyModule model;  // MLP or GLU
  torch::nn::CrossEntropyLoss criterion;
  std::shared_ptr<torch::optim::Adam> optimizer;
  std::int64_t inputs = 0;
  std::int64_t outputs = 0;

  ts::Aggregate aggregate(std::int64_t epoch = 0) const {
    return {model.ptr(), criterion.ptr(), optimizer, epoch};
  }
  std::shared_ptr<torch::nn::Module> module() const { return model.ptr(); }

  /// Adam steps on a fixed batch, so that the optimizer has state.
  void train(int steps, std::uint64_t seed = 1) {
    torch::manual_seed(seed);
    const auto input = torch::randn({16, inputs});
    const auto target = torch::randint(0, outputs, {16});
    for (int step = 0; step < steps; ++step) {
      optimizer->zero_grad();
      criterion(model.forward(input), target).backward();
      optimizer->step();
    }
  }
};

Trainee make(const std::string& kind = "MLP", std::int64_t inputs = 8, std::int64_t hidden = 16,
             std::int64_t outputs = 3, double lr = 0.01) {
  register_models();
  Trainee trainee;
  auto activation = ts::create<torch::nn::ReLU>();
  if (kind == "MLP") {
    trainee.model = torch::nn::AnyModule(
        ts::create<seed::MLP>(inputs, hidden, outputs, "dropout"_a = 0.0, "activation"_a = activation));
  } else {
    trainee.model = torch::nn::AnyModule(
        ts::create<seed::GLU>(inputs, hidden, outputs, "dropout"_a = 0.0, "activation"_a = activation));
  }
  trainee.criterion = ts::create<torch::nn::CrossEntropyLoss>();
  trainee.optimizer = ts::create<torch::optim::Adam>(trainee.model.ptr()->parameters(), "lr"_a = lr);
  trainee.inputs = inputs;
  trainee.outputs = outputs;
  return trainee;
}

/// Copies of every parameter and buffer, by name.
std::vector<std::pair<std::string, torch::Tensor>> tensors_of(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> all;
  for (const auto& item : module.named_parameters())
    all.emplace_back(item.key(), item.value().detach().clone());
  for (const auto& item : module.named_buffers())
    all.emplace_back("buffer " + item.key(), item.value().detach().clone());
  return all;
}

/// Empty when `a` and `b` hold the same names with bit-identical tensors, else the first difference.
std::string difference(const std::vector<std::pair<std::string, torch::Tensor>>& a,
                       const std::vector<std::pair<std::string, torch::Tensor>>& b) {
  if (a.size() != b.size()) return "different numbers of tensors";
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first) return "names " + a[i].first + " and " + b[i].first;
    if (!torch::equal(a[i].second, b[i].second)) return "values of " + a[i].first;
  }
  return {};
}

const torch::optim::AdamParamState* adam_state(const torch::optim::Adam& optimizer,
                                               const torch::Tensor& parameter) {
  const auto found = optimizer.state().find(c10::guts::to_string(parameter.unsafeGetTensorImpl()));
  if (found == optimizer.state().end()) return nullptr;
  return static_cast<const torch::optim::AdamParamState*>(found->second.get());
}

/// The CheckpointError `action` throws; fails the test when it throws nothing or something else.
template <class F>
ts::CheckpointError checkpoint_error(F&& action) {
  try {
    action();
  } catch (const ts::CheckpointError& error) {
    return error;
  } catch (const std::exception& error) {
    ADD_FAILURE() << "expected a CheckpointError, got: " << error.what();
    return ts::CheckpointError("", "(another exception)");
  }
  ADD_FAILURE() << "expected a CheckpointError, nothing was thrown";
  return ts::CheckpointError("", "(no exception)");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Where the data of the zip record whose name first contains `name_part` start in `bytes` (its local
/// header: 30 bytes, then the name and the extra field, each of a little-endian 16-bit length).
std::size_t record_data(const std::string& bytes, const std::string& name_part) {
  const std::size_t name = bytes.find(name_part);
  const std::size_t header = name == std::string::npos ? name : bytes.rfind("PK\x03\x04", name);
  if (header == std::string::npos) {
    ADD_FAILURE() << "no record named like " << name_part;
    return 0;
  }
  const auto u16 = [&](std::size_t at) {
    return static_cast<std::size_t>(static_cast<unsigned char>(bytes[at])) |
           static_cast<std::size_t>(static_cast<unsigned char>(bytes[at + 1])) << 8;
  };
  return header + 30 + u16(header + 26) + u16(header + 28);
}

/// Writes `bytes`, their zip CRC-32s made to match, over the checkpoint at `path`, so that the change
/// gets past the store's CRC check. Loading it into a fresh aggregate and inspecting it must then each
/// give a CheckpointError naming the file and holding every one of `parts`, and leave both the fresh
/// model and the file as they were.
void expect_refused_behind_valid_crcs(const ts::CheckpointStore& store, const fs::path& path,
                                      std::string bytes, const std::vector<std::string>& parts) {
  bytes = torchsystem::fuzz::with_recomputed_crcs(bytes);
  write_bytes(path, bytes);
  Trainee fresh = make();
  const auto before = tensors_of(*fresh.module());
  for (const auto& error : {checkpoint_error([&] { store.load(fresh.aggregate()); }),
                            checkpoint_error([&] { ts::CheckpointStore::inspect(path); })}) {
    EXPECT_EQ(error.path(), path.string());
    for (const auto& part : parts) EXPECT_TRUE(contains(error.what(), part)) << error.what();
  }
  EXPECT_EQ(difference(before, tensors_of(*fresh.module())), "") << "nothing was loaded";
  EXPECT_EQ(read_bytes(path), bytes);
}

// --- 1. Round trip ---------------------------------------------------------------------------------------

TEST(CheckpointStoreRoundTrip, LoadRestoresParametersBuffersAndOptimizerStateBitForBit) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path() / "weights");
  Trainee saved = make();
  saved.train(3);
  const ts::Json extra = {{"history", {1.5, 1.25, 0.1}}};
  const auto info = store.save(saved.aggregate(3), extra);
  EXPECT_EQ(info.name, "MLP");
  EXPECT_EQ(info.hash, ts::gethash(saved.module()));
  EXPECT_EQ(info.epoch, 3);
  EXPECT_EQ(info.path, store.path_for("MLP", ts::gethash(saved.module())));
  EXPECT_EQ(info.size, fs::file_size(info.path));

  Trainee restored = make();
  ASSERT_EQ(ts::gethash(restored.module()), ts::gethash(saved.module()));
  ASSERT_FALSE(difference(tensors_of(*saved.module()), tensors_of(*restored.module())).empty())
      << "fresh objects start from other random values, or this test would prove nothing";
  ASSERT_TRUE(restored.optimizer->state().empty());

  const auto found = store.load(restored.aggregate());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->epoch, 3);
  EXPECT_EQ(found->metadata["extra"], extra);
  EXPECT_EQ(found->path, info.path);
  EXPECT_EQ(difference(tensors_of(*saved.module()), tensors_of(*restored.module())), "");
  EXPECT_EQ(difference(tensors_of(*saved.criterion), tensors_of(*restored.criterion)), "");

  const auto saved_parameters = saved.module()->parameters();
  const auto restored_parameters = restored.module()->parameters();
  ASSERT_EQ(saved_parameters.size(), restored_parameters.size());
  ASSERT_EQ(restored.optimizer->state().size(), saved_parameters.size());
  for (std::size_t i = 0; i < saved_parameters.size(); ++i) {
    const auto* before = adam_state(*saved.optimizer, saved_parameters[i]);
    const auto* after = adam_state(*restored.optimizer, restored_parameters[i]);
    ASSERT_NE(before, nullptr);
    ASSERT_NE(after, nullptr) << "parameter " << i << " has no state after load";
    EXPECT_EQ(after->step(), before->step());
    EXPECT_EQ(after->step(), 3);
    EXPECT_TRUE(torch::equal(after->exp_avg(), before->exp_avg())) << "parameter " << i;
    EXPECT_TRUE(torch::equal(after->exp_avg_sq(), before->exp_avg_sq())) << "parameter " << i;
  }

  // Both continue identically: one more step on the same batch gives bit-identical parameters.
  saved.train(1, 99);
  restored.train(1, 99);
  EXPECT_EQ(difference(tensors_of(*saved.module()), tensors_of(*restored.module())), "");
}

// --- 2. Layout and self-description ----------------------------------------------------------------------

// Every archive the store writes must pass its own checks before LibTorch reads it, the check of the
// stored TorchScript source (src/training/archive_source.hpp) above all: modules with buffers, recurrent
// and attention layers, and the state of each optimizer of the catalog.
TEST(CheckpointStoreRoundTrip, EveryKindOfModuleAndOptimizerStateLoadsBack) {
  register_models();
  using ModuleFactory = std::function<std::shared_ptr<torch::nn::Module>()>;
  const std::vector<std::pair<std::string, ModuleFactory>> models = {
      {"BatchNorm1d", [] { return ts::create<torch::nn::BatchNorm1d>(4).ptr(); }},
      {"Conv2d", [] { return ts::create<torch::nn::Conv2d>(2, 3, 3).ptr(); }},
      {"Embedding", [] { return ts::create<torch::nn::Embedding>(10, 4).ptr(); }},
      {"LSTM", [] { return ts::create<torch::nn::LSTM>(4, 3, "num_layers"_a = 2).ptr(); }},
      {"GRU", [] { return ts::create<torch::nn::GRU>(4, 3, "bidirectional"_a = true).ptr(); }},
      {"MultiheadAttention", [] { return ts::create<torchsystem::nn::MultiheadAttention>(4, 2).ptr(); }},
      {"TransformerEncoderLayer",
       [] { return ts::create<torchsystem::nn::TransformerEncoderLayer>(4, 2).ptr(); }},
  };
  using Parameters = std::vector<torch::Tensor>;
  using OptimizerFactory = std::function<std::shared_ptr<torch::optim::Optimizer>(Parameters)>;
  const std::vector<std::pair<std::string, OptimizerFactory>> optimizers = {
      {"SGD",
       [](Parameters p) { return ts::create<torch::optim::SGD>(p, "lr"_a = 0.1, "momentum"_a = 0.9); }},
      {"Adam", [](Parameters p) { return ts::create<torch::optim::Adam>(p, "amsgrad"_a = true); }},
      {"AdamW", [](Parameters p) { return ts::create<torch::optim::AdamW>(p); }},
      {"RMSprop",
       [](Parameters p) {
         return ts::create<torch::optim::RMSprop>(p, "momentum"_a = 0.5, "centered"_a = true);
       }},
      {"Adagrad", [](Parameters p) { return ts::create<torch::optim::Adagrad>(p); }},
      {"LBFGS", [](Parameters p) { return ts::create<torch::optim::LBFGS>(p, "history_size"_a = 3); }},
  };
  for (std::size_t index = 0; index < models.size(); ++index) {
    // Each model with two optimizers, so that every optimizer meets several kinds of parameters.
    for (const std::size_t pick : {index % optimizers.size(), (index + 3) % optimizers.size()}) {
      const auto& [model_name, make_model] = models[index];
      const auto& [optimizer_name, make_optimizer] = optimizers[pick];
      SCOPED_TRACE(model_name + " with " + optimizer_name);
      const TempDir dir;
      const ts::CheckpointStore store(dir.path());
      torch::manual_seed(7);
      const auto model = make_model();
      const auto optimizer = make_optimizer(model->parameters());
      const auto closure = [&] {
        optimizer->zero_grad();
        torch::Tensor loss = torch::zeros({});
        for (const auto& parameter : model->parameters()) loss = loss + parameter.pow(2).sum();
        loss.backward();
        return loss;
      };
      optimizer->step(closure);
      optimizer->step(closure);
      const auto criterion = ts::create<torch::nn::MSELoss>().ptr();
      try {
        store.save({model, criterion, optimizer, 2});
      } catch (const ts::CheckpointError& error) {
        ADD_FAILURE() << error.what();
        continue;
      }

      torch::manual_seed(8);
      const auto fresh_model = make_model();
      const auto fresh_optimizer = make_optimizer(fresh_model->parameters());
      ASSERT_NE(difference(tensors_of(*model), tensors_of(*fresh_model)), "") << "the reload has work to do";
      try {
        const auto loaded =
            store.load({fresh_model, ts::create<torch::nn::MSELoss>().ptr(), fresh_optimizer});
        ASSERT_TRUE(loaded.has_value());
        EXPECT_EQ(loaded->epoch, 2);
      } catch (const ts::CheckpointError& error) {
        FAIL() << error.what();
      }
      EXPECT_EQ(difference(tensors_of(*model), tensors_of(*fresh_model)), "");
      EXPECT_EQ(fresh_optimizer->state().size(), optimizer->state().size());
      EXPECT_FALSE(fresh_optimizer->state().empty());
    }
  }
}

/// Entries of LBFGS's scratch list `al` that no iteration has written yet.
std::size_t unwritten_lbfgs_scratch(const torch::optim::Optimizer& optimizer) {
  std::size_t count = 0;
  for (const auto& [key, state] : optimizer.state()) {
    const auto& al = static_cast<const torch::optim::LBFGSParamState&>(*state).al();
    if (al)
      count += static_cast<std::size_t>(
          std::count_if(al->begin(), al->end(), [](const auto& entry) { return !entry.defined(); }));
  }
  return count;
}

// Regression (found by EveryKindOfModuleAndOptimizerStateLoadsBack): LibTorch 1.13 cannot write the state
// of an LBFGS optimizer whose history is not full yet ("Cannot access storage of UndefinedTensorImpl"), so
// a job training with LBFGS failed at its first save. The store saves it, leaves the optimizer as it was,
// and the loaded optimizer steps on.
TEST(CheckpointStoreRoundTrip, AnLbfgsOptimizerWhoseHistoryIsNotFullIsSavedAndLeftAsItWas) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  const auto make_lbfgs = [](const Trainee& trainee) {
    return ts::create<torch::optim::LBFGS>(trainee.module()->parameters(), "max_iter"_a = 3,
                                           "history_size"_a = 10);
  };
  const auto step = [](Trainee& trainee, torch::optim::Optimizer& optimizer) {
    torch::manual_seed(3);
    const auto input = torch::randn({16, trainee.inputs});
    const auto target = torch::randint(0, trainee.outputs, {16});
    return optimizer.step([&] {
      optimizer.zero_grad();
      auto loss = trainee.criterion(trainee.model.forward(input), target);
      loss.backward();
      return loss;
    });
  };
  Trainee trainee = make();
  const auto lbfgs = make_lbfgs(trainee);
  step(trainee, *lbfgs);
  const std::size_t unwritten = unwritten_lbfgs_scratch(*lbfgs);
  ASSERT_GT(unwritten, 0U) << "the history is not full: the case LibTorch cannot write";

  try {
    store.save({trainee.module(), trainee.criterion.ptr(), lbfgs, 1});
  } catch (const ts::CheckpointError& error) {
    FAIL() << error.what();
  }
  EXPECT_EQ(unwritten_lbfgs_scratch(*lbfgs), unwritten) << "saving changed the optimizer";

  Trainee fresh = make();
  const auto fresh_lbfgs = make_lbfgs(fresh);
  ASSERT_TRUE(store.load({fresh.module(), fresh.criterion.ptr(), fresh_lbfgs}).has_value());
  EXPECT_EQ(difference(tensors_of(*trainee.module()), tensors_of(*fresh.module())), "");
  const auto resumed = step(fresh, *fresh_lbfgs);
  const auto original = step(trainee, *lbfgs);
  EXPECT_TRUE(torch::equal(resumed, original)) << "the loaded optimizer continues as the saved one";
  EXPECT_EQ(difference(tensors_of(*trainee.module()), tensors_of(*fresh.module())), "");
}

TEST(CheckpointStoreLayout, ArchiveAndSidecarAreNamedByIdentityAndTheArchiveDescribesItself) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  trainee.train(1);
  const std::string hash = ts::gethash(trainee.module());
  store.save(trainee.aggregate(7), {{"note", "é and \"quotes\""}});

  EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"MLP-" + hash + ".json", "MLP-" + hash + ".pth"}))
      << "no temporary file is left behind";
  const fs::path archive_path = dir.path() / ("MLP-" + hash + ".pth");
  const fs::path sidecar_path = dir.path() / ("MLP-" + hash + ".json");

  // What the file holds: the reference's layout and the identity (tests/python reads it with PyTorch).
  const int fd = ::open(archive_path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const auto file = torchsystem::checkpoint_detail::read_torch_save(
      fd, fs::file_size(archive_path), torchsystem::checkpoint_detail::TorchSaveRead::verify);
  ::close(fd);
  std::vector<std::string> keys;
  for (const auto& [key, value] : file.tree.root->entries) keys.push_back(key->string);
  EXPECT_EQ(keys, (std::vector<std::string>{"epoch", "nn", "optimizer", "criterion", "torchsystem"}));
  EXPECT_EQ(file.tree.root->find("epoch")->integer, 7);
  std::vector<std::string> parameters;
  for (const auto& [key, value] : file.tree.root->find("nn")->entries) parameters.push_back(key->string);
  EXPECT_EQ(parameters, (std::vector<std::string>{"input_layer.weight", "input_layer.bias",
                                                  "output_layer.weight", "output_layer.bias"}));
  const ts::Json embedded = torchsystem::checkpoint_detail::to_json(file.tree.root->find("torchsystem"));

  const ts::Json expected = {
      {"format", "torchsystem-checkpoint/2"},
      {"model", {{"name", "MLP"}, {"hash", hash}, {"arguments", ts::getarguments(trainee.module())}}},
      {"criterion",
       {{"name", "CrossEntropyLoss"},
        {"hash", ts::gethash(trainee.criterion)},
        {"arguments", ts::Json::object()}}},
      {"optimizer",
       {{"name", "Adam"}, {"hash", ts::gethash(trainee.optimizer)}, {"arguments", {{"lr", 0.01}}}}},
      {"epoch", 7},
      {"extra", {{"note", "é and \"quotes\""}}}};
  EXPECT_EQ(ts::dumps(embedded), ts::dumps(expected));
  EXPECT_EQ(
      ts::dumps(embedded["model"]["arguments"]),
      R"({"input_size": 8, "hidden_size": 16, "output_size": 3, "dropout": 0.0, "activation": "ReLU"})");

  const std::string sidecar_text = read_bytes(sidecar_path);
  EXPECT_TRUE(sidecar_text.starts_with(
      "{\n  \"format\": \"torchsystem-checkpoint/2\",\n  \"model\": {\n    \"name\""))
      << sidecar_text;
  EXPECT_EQ(ts::dumps(ts::parse_json(sidecar_text)), ts::dumps(embedded));

  // The archive alone is enough.
  fs::remove(sidecar_path);
  const auto inspected = ts::CheckpointStore::inspect(archive_path);
  EXPECT_EQ(inspected.name, "MLP");
  EXPECT_EQ(inspected.hash, hash);
  EXPECT_EQ(inspected.epoch, 7);
  EXPECT_EQ(ts::dumps(inspected.metadata), ts::dumps(expected));
  EXPECT_EQ(inspected.size, fs::file_size(archive_path));
  EXPECT_EQ(inspected.modified, fs::last_write_time(archive_path));
  Trainee fresh = make();
  const auto found = store.load(fresh.aggregate());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->epoch, 7);
  EXPECT_EQ(difference(tensors_of(*trainee.module()), tensors_of(*fresh.module())), "");
}

TEST(CheckpointStoreLayout, ASecondSaveReplacesTheFirst) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  store.save(trainee.aggregate(1));
  trainee.train(1);
  store.save(trainee.aggregate(2), {{"last", true}});
  EXPECT_EQ(entries(dir.path()).size(), 2U);
  Trainee fresh = make();
  const auto found = store.load(fresh.aggregate());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->epoch, 2);
  EXPECT_EQ(found->metadata["extra"]["last"], true);
  EXPECT_EQ(difference(tensors_of(*trainee.module()), tensors_of(*fresh.module())), "");
  const auto sidecar =
      ts::parse_json(read_bytes(found->path.parent_path() / (found->path.stem().string() + ".json")));
  EXPECT_EQ(sidecar["epoch"], 2);
}

// --- 3. Identity checks ----------------------------------------------------------------------------------

TEST(CheckpointStoreIdentity, NothingSavedIsNulloptAndAnotherModelFindsNothing) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path() / "not-yet");
  Trainee trainee = make();
  EXPECT_FALSE(store.load(trainee.aggregate()).has_value());
  EXPECT_FALSE(fs::exists(dir.path() / "not-yet")) << "load creates nothing";
  store.save(trainee.aggregate(1));
  Trainee wider = make("MLP", 8, 32);
  ASSERT_NE(ts::gethash(wider.module()), ts::gethash(trainee.module()));
  const auto before = tensors_of(*wider.module());
  EXPECT_FALSE(store.load(wider.aggregate()).has_value());
  EXPECT_EQ(difference(before, tensors_of(*wider.module())), "");
}

TEST(CheckpointStoreIdentity, AnotherOptimizerIsRefusedNamingBothAndChangesNothing) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  trainee.train(1);
  const auto info = store.save(trainee.aggregate(1));
  const std::string bytes = read_bytes(info.path);

  Trainee other = make("MLP", 8, 16, 3, 0.02);
  ASSERT_EQ(ts::gethash(other.module()), ts::gethash(trainee.module())) << "the same model identity";
  const auto before = tensors_of(*other.module());
  const auto error = checkpoint_error([&] { store.load(other.aggregate()); });
  const std::string message = error.what();
  EXPECT_EQ(error.path(), info.path.string());
  EXPECT_TRUE(contains(message, info.path.string())) << message;
  EXPECT_TRUE(contains(message, "optimizer")) << message;
  EXPECT_TRUE(contains(message, R"(saved {"name": "Adam", "hash": ")")) << message;
  EXPECT_TRUE(contains(message, R"("arguments": {"lr": 0.01}})")) << message;
  EXPECT_TRUE(contains(message, R"("arguments": {"lr": 0.02}})")) << message;
  EXPECT_EQ(difference(before, tensors_of(*other.module())), "") << "the model is unchanged";
  EXPECT_TRUE(other.optimizer->state().empty()) << "the optimizer is unchanged";
  EXPECT_EQ(read_bytes(info.path), bytes);
}

TEST(CheckpointStoreIdentity, AnotherLossIsRefused) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  store.save(trainee.aggregate(1));
  Trainee other = make();
  other.criterion = ts::create<torch::nn::CrossEntropyLoss>("label_smoothing"_a = 0.1);
  const std::string message = checkpoint_error([&] { store.load(other.aggregate()); }).what();
  EXPECT_TRUE(contains(message, "criterion differs")) << message;
  EXPECT_TRUE(contains(message, "label_smoothing")) << message;
}

TEST(CheckpointStoreIdentity, ACheckpointCopiedUnderAnotherIdentityIsRefused) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee a = make("MLP", 8, 16);
  a.train(1);
  const auto saved = store.save(a.aggregate(4));
  Trainee b = make("MLP", 8, 16, 3);
  ts::sethash(b.model, "0123456789abcdef0123456789abcdef");  // another identity, the same shapes
  const fs::path b_path = store.path_for("MLP", "0123456789abcdef0123456789abcdef");
  fs::copy_file(saved.path, b_path);
  const std::string bytes = read_bytes(b_path);
  const auto before = tensors_of(*b.module());

  const auto error = checkpoint_error([&] { store.load(b.aggregate()); });
  const std::string message = error.what();
  EXPECT_EQ(error.path(), b_path.string());
  EXPECT_TRUE(contains(message, "model differs")) << message;
  EXPECT_TRUE(contains(message, saved.hash)) << message;
  EXPECT_TRUE(contains(message, "0123456789abcdef0123456789abcdef")) << message;
  EXPECT_EQ(difference(before, tensors_of(*b.module())), "") << "nothing was loaded";
  EXPECT_TRUE(b.optimizer->state().empty());
  EXPECT_EQ(read_bytes(b_path), bytes);

  // list() reports the misplaced file rather than showing A twice.
  std::vector<std::string> damaged;
  const auto listed = store.list(true, &damaged);
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].path, saved.path);
  ASSERT_EQ(damaged.size(), 1U);
  EXPECT_TRUE(contains(damaged[0], b_path.string())) << damaged[0];
}

// --- 4. Damaged files ------------------------------------------------------------------------------------

TEST(CheckpointStoreDamage, TruncatedCorruptedAndForeignFilesAreErrorsAndAreLeftAlone) {
  const TempDir dir;
  Trainee trainee = make("MLP", 64, 256, 10);  // tensors fill most of the file
  trainee.train(1);
  Trainee glu = make("GLU");
  std::string good;
  {
    const ts::CheckpointStore store(dir.path() / "good");
    good = read_bytes(store.save(trainee.aggregate(1)).path);
  }
  ASSERT_GT(good.size(), 100000U);
  const auto flipped = [&](std::size_t at) {
    std::string bytes = good;
    for (std::size_t i = at; i < at + 256; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
    return bytes;
  };
  std::string foreign_archive;
  {
    torch::serialize::OutputArchive archive;
    archive.write("weights", torch::ones({3}));
    archive.save_to([&](const void* data, std::size_t size) {
      foreign_archive.append(static_cast<const char*>(data), size);
      return size;
    });
  }
  const std::vector<std::pair<std::string, std::string>> variants = {
      {"cut to half", good.substr(0, good.size() / 2)},
      {"cut to 10 bytes", good.substr(0, 10)},
      {"cut to 0 bytes", ""},
      {"cut by one byte", good.substr(0, good.size() - 1)},
      {"flipped at a quarter", flipped(good.size() / 4)},
      {"flipped in the middle", flipped(good.size() / 2)},
      {"flipped at three quarters", flipped(good.size() * 3 / 4)},
      {"a text file", "{\"format\": \"torchsystem-checkpoint/1\"}\n"},
      {"a LibTorch archive without metadata", foreign_archive},
  };
  int round = 0;
  for (const auto& [what, bytes] : variants) {
    SCOPED_TRACE(what);
    const ts::CheckpointStore store(dir.path() / ("store" + std::to_string(round++)));
    const fs::path path = store.save(trainee.aggregate(1)).path;
    store.save(glu.aggregate(2));
    write_bytes(path, bytes);

    Trainee fresh = make("MLP", 64, 256, 10);
    const auto before = tensors_of(*fresh.module());
    const auto load_error = checkpoint_error([&] { store.load(fresh.aggregate()); });
    EXPECT_EQ(load_error.path(), path.string());
    EXPECT_TRUE(contains(load_error.what(), "not a readable checkpoint")) << load_error.what();
    EXPECT_EQ(difference(before, tensors_of(*fresh.module())), "");
    EXPECT_TRUE(fresh.optimizer->state().empty());

    const auto inspect_error = checkpoint_error([&] { ts::CheckpointStore::inspect(path); });
    EXPECT_EQ(inspect_error.path(), path.string()) << inspect_error.what();

    // A full listing (`checkpoints verify`) finds every kind of damage.
    const auto list_error = checkpoint_error([&] { store.list(false, nullptr, ts::CheckpointCheck::full); });
    EXPECT_EQ(list_error.path(), path.string()) << list_error.what();
    std::vector<std::string> damaged;
    const auto listed = store.list(true, &damaged, ts::CheckpointCheck::full);
    ASSERT_EQ(listed.size(), 1U);
    EXPECT_EQ(listed[0].name, "GLU");
    ASSERT_EQ(damaged.size(), 1U);
    EXPECT_EQ(damaged[0], inspect_error.what());
    // The default listing reads the zip directory and the metadata only: bytes flipped inside the
    // tensors are found by the full check and by every load, not by it.
    std::vector<std::string> metadata_damaged;
    const auto metadata_listed = store.list(true, &metadata_damaged);
    const bool in_tensors_only = what.starts_with("flipped");
    EXPECT_EQ(metadata_listed.size(), in_tensors_only ? 2U : 1U);
    EXPECT_EQ(metadata_damaged.size(), in_tensors_only ? 0U : 1U);

    EXPECT_EQ(read_bytes(path), bytes) << "the damaged file is left byte for byte";
    EXPECT_EQ(entries(store.directory()).size(), 4U) << "nothing added or removed";
  }
}

// Regression (found by fuzz/checkpoint_crc_fuzzer): LibTorch's TorchScript errors start with a line
// break, and the store kept only the first line of a message, so a checkpoint whose code LibTorch
// could not compile was refused with an empty reason: "...: not a readable checkpoint: ". The input is
// fuzz/corpus/checkpoint_crc/torchscript-error-without-reason.pt.
TEST(CheckpointStoreFormerFormat, AnArchiveLibTorchCannotReadBehindValidCrcsIsRefusedWithAReason) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  const fs::path path = save_legacy(store, trainee.aggregate(), 1);
  std::string bytes = read_bytes(path);
  // A byte of the archive's pickled object, whose type names start at its sixth byte; the CRCs are then
  // made to match, so that the store's libzip check passes and LibTorch's reader meets the change.
  const std::size_t data = record_data(bytes, "data.pkl");
  bytes[data + 5] = static_cast<char>(bytes[data + 5] ^ 1);
  bytes = torchsystem::fuzz::with_recomputed_crcs(bytes);
  write_bytes(path, bytes);

  Trainee fresh = make();
  for (const auto& error : {checkpoint_error([&] { store.load(fresh.aggregate()); }),
                            checkpoint_error([&] { ts::CheckpointStore::inspect(path); })}) {
    const std::string what = error.what();
    EXPECT_EQ(error.path(), path.string());
    const std::string prefix = path.string() + ": not a readable checkpoint: ";
    ASSERT_TRUE(what.starts_with(prefix)) << what;
    EXPECT_GT(what.size(), prefix.size() + 5) << "a reason follows: " << what;
    EXPECT_FALSE(what.ends_with(":")) << what;
  }
  EXPECT_EQ(read_bytes(path), bytes);
}

// Regression (found by fuzz/checkpoint_crc_fuzzer under LeakSanitizer): LibTorch 1.13's reader leaks its
// zip state when it refuses an archive while opening it, here for a version record it cannot parse.
// The store now checks the version record itself, before LibTorch sees the file. The input is
// fuzz/corpus/checkpoint_crc/libtorch-leak-unparsable-version.pt.
TEST(CheckpointStoreFormerFormat, AnUnreadableVersionRecordIsRefusedBeforeLibTorchReadsTheArchive) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  const fs::path path = save_legacy(store, trainee.aggregate(), 1);
  const std::string good = read_bytes(path);
  const std::size_t data = record_data(good, "/version");
  ASSERT_EQ(good.substr(data, 2), "3\n");
  for (const std::string& version : {std::string("\0\0", 2), std::string("x\n"), std::string("0\n"),
                                     std::string("9\n").replace(0, 1, "\x7f")}) {
    std::string bytes = good;
    bytes.replace(data, 2, version);
    expect_refused_behind_valid_crcs(store, path, bytes, {"its version record is"});
  }
  write_bytes(path, good);
  EXPECT_TRUE(store.load(make().aggregate()).has_value()) << "the real version record passes";
}

// Regression (found by fuzz/checkpoint_crc_fuzzer): LibTorch 1.13 compiles the TorchScript source stored
// in an archive, and its compiler crashes (SEGV in ScriptTypeParser::parseClassConstant) on a class-body
// assignment it does not expect, such as `__buffeus__ = []` for `__buffers__ = []`. The store refuses
// source outside what it writes before LibTorch reads the file. The fuzzer's input is
// fuzz/corpus/checkpoint_crc/torchscript-class-constant.pt.
TEST(CheckpointStoreFormerFormat, TorchScriptSourceTheStoreNeverWritesIsRefusedBeforeLibTorchCompilesIt) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  trainee.train(1);  // Adam's state: a class of its own in the archive, stored without compression
  const fs::path path = save_legacy(store, trainee.aggregate(), 1);
  const std::string good = read_bytes(path);
  const std::string state_class =
      "class Module(Module):\n  __parameters__ = []\n  __buffers__ = []\n  step : int";
  const std::size_t at = good.find(state_class);
  ASSERT_NE(at, std::string::npos) << "Adam's state class is stored as is";
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"__buffers__ = []", "__buffeus__ = []"},
                                 {"step : int", "step = int"}}) {
    std::string bytes = good;
    bytes.replace(bytes.find(from, at), from.size(), to);
    expect_refused_behind_valid_crcs(
        store, path, bytes,
        {"holds source the store never writes (line ", "is not an attribute declaration of a module"});
  }
  write_bytes(path, good);
  EXPECT_TRUE(store.load(make().aggregate()).has_value()) << "the source the store wrote passes";
}

// Regression (found by fuzz/checkpoint_crc_fuzzer): LibTorch 1.13's unpickler allocates what numbers in a
// pickle announce before it checks them against the data (a memo index asked for 58 GB). The store bounds
// them by the pickle's size before LibTorch reads the file; here the length of the metadata's string.
// The fuzzer's input is fuzz/corpus/checkpoint_crc/libtorch-unpickler-58gb-memo.pt.
TEST(CheckpointStoreFormerFormat, APickleAnnouncingMoreThanItHoldsIsRefusedBeforeLibTorchAllocatesIt) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  const fs::path path = save_legacy(store, trainee.aggregate(), 1);
  std::string bytes = read_bytes(path);
  // BINUNICODE: 'X', a 32-bit little-endian length, then the metadata's JSON text.
  const std::size_t text = bytes.find(R"({"format": "torchsystem-checkpoint/1")");
  ASSERT_NE(text, std::string::npos);
  ASSERT_GT(text, record_data(bytes, "data.pkl"));
  ASSERT_EQ(bytes[text - 5], 'X');
  bytes.replace(text - 4, 4, "\xf0\xff\xff\x7f");
  expect_refused_behind_valid_crcs(store, path, bytes,
                                   {"record 'archive/data.pkl' is a pickle LibTorch cannot read safely "
                                    "(its opcode 0x58 at byte ",
                                    " announces 2147483632 bytes where "});
}

// Regression: LibTorch 1.13 builds a tensor from the storage size, offset, sizes and strides in the pickle
// without checking them against the record holding its data, so a file whose CRCs match could make a
// model's parameter read past its data: it loaded without a word, with values from elsewhere in memory.
// The store checks every storage against its record and every tensor against its storage first.
TEST(CheckpointStoreFormerFormat, ATensorReachingPastItsDataIsRefusedBeforeLibTorchBuildsIt) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  const fs::path path = save_legacy(store, trainee.aggregate(), 1);
  const std::string good = read_bytes(path);
  // The first storage reference: (..., BININT1 elements, TUPLE, BINPERSID, [BINPUT n,] BININT1 offset.
  const std::size_t reference = good.find("tQ", record_data(good, "data.pkl"));
  ASSERT_NE(reference, std::string::npos);
  ASSERT_EQ(good[reference - 2], 'K') << "the number of elements is a BININT1";
  const std::size_t offset = reference + (good[reference + 2] == 'q' ? 4 : 2);
  ASSERT_EQ(good.substr(offset, 2), std::string("K\0", 2)) << "the first tensor starts its storage";
  const std::pair<std::size_t, std::string> changes[] = {
      {reference - 1, "elements of 4 bytes, where its record has"},
      {offset + 1, "rebuilds a tensor that reaches past its storage"}};
  for (const auto& [at, expected] : changes) {
    std::string bytes = good;
    bytes[at] = '\xc8';  // 200
    expect_refused_behind_valid_crcs(
        store, path, bytes, {"record 'archive/data.pkl' is a pickle LibTorch cannot read safely", expected});
  }
}

TEST(CheckpointStoreDamage, ATensorOfTheWrongShapeIsRefusedBeforeAnythingChanges) {
  // The same identity whose tensors no longer fit (its code changed, say): LibTorch alone would
  // replace the parameter by the stored one of another shape.
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee saved = make();
  saved.train(1);
  store.save(saved.aggregate(1));
  Trainee changed = make();
  {
    torch::NoGradGuard no_grad;
    changed.module()->named_parameters()["input_layer.weight"].set_(torch::zeros({32, 8}));
  }
  const auto before = tensors_of(*changed.module());
  const std::string message = checkpoint_error([&] { store.load(changed.aggregate()); }).what();
  EXPECT_TRUE(contains(message,
                       "does not fit the aggregate: nn.input_layer.weight is Float[16, 8] in the file, "
                       "Float[32, 8] in the model"))
      << message;
  EXPECT_EQ(difference(before, tensors_of(*changed.module())), "");
  EXPECT_TRUE(changed.optimizer->state().empty());

  // The same in the former format, whose check reads LibTorch's archive.
  fs::remove(store.path_for(ts::getname(saved.module()), ts::gethash(saved.module())));
  save_legacy(store, saved.aggregate(), 1);
  const std::string legacy = checkpoint_error([&] { store.load(changed.aggregate()); }).what();
  EXPECT_TRUE(contains(
      legacy, "model: input_layer.weight is Float[16, 8] in the checkpoint, Float[32, 8] in the module"))
      << legacy;
  EXPECT_EQ(difference(before, tensors_of(*changed.module())), "");
}

TEST(CheckpointStoreDamage, AnOptimizerStateThatDoesNotFitIsRefusedBeforeAnythingChanges) {
  // An optimizer over fewer parameters has the same identity (parameters are not part of it), so the
  // metadata match; every part is checked before any is loaded, so nothing changes.
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee saved = make();
  saved.train(1);
  store.save(saved.aggregate(1));
  Trainee partial = make();
  partial.optimizer = ts::create<torch::optim::Adam>(
      std::vector<torch::Tensor>{partial.module()->parameters()[0]}, "lr"_a = 0.01);
  partial.train(1);
  const auto before = tensors_of(*partial.module());
  const auto exp_avg_before =
      adam_state(*partial.optimizer, partial.module()->parameters()[0])->exp_avg().clone();
  const std::string message = checkpoint_error([&] { store.load(partial.aggregate()); }).what();
  EXPECT_TRUE(contains(message,
                       "does not fit the aggregate: optimizer.param_groups[0].params lists 4 parameters, "
                       "the group has 1"))
      << message;
  EXPECT_EQ(difference(before, tensors_of(*partial.module())), "");
  ASSERT_EQ(partial.optimizer->state().size(), 1U);
  EXPECT_TRUE(torch::equal(adam_state(*partial.optimizer, partial.module()->parameters()[0])->exp_avg(),
                           exp_avg_before));
}

// A `.pth` whose CRCs match but whose pickle asks for what torch.save never writes, or whose tensors do not
// fit their storages, is refused by the store's reader, which never runs code (tests/training/pickle_test.cpp
// holds every refusal of the pickle reader).
TEST(CheckpointStoreDamage, APickleBeyondTorchSaveIsRefusedBehindValidCrcs) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  const fs::path path = store.save(trainee.aggregate(1)).path;
  const std::string good = read_bytes(path);
  const auto changed = [&](const std::string& from, const std::string& to) {
    std::string bytes = good;
    const std::size_t at = bytes.find(from, record_data(bytes, "data.pkl"));
    EXPECT_NE(at, std::string::npos) << from;
    bytes.replace(at, from.size(), to);
    return bytes;
  };
  expect_refused_behind_valid_crcs(store, path,
                                   changed("collections\nOrderedDict\n", "posix\nsystem\nxxxxxxxxxxx"),
                                   {"the global \"posix.system\" is not one torch.save writes"});
  expect_refused_behind_valid_crcs(
      store, path, changed("_rebuild_tensor_v2", "_rebuild_tensor_v9"),
      {"the global \"torch._utils._rebuild_tensor_v9\" is not one torch.save writes"});
  // The first storage: ('storage', torch.FloatStorage, '0', 'cpu', 128) for input_layer.weight [16, 8], then
  // BINPERSID and the tensor's offset 0. One element more; an offset past the storage.
  const std::string first = std::string(
      "X\x03\x00\x00\x00"
      "cpuK\x80tQK\x00",
      14);
  expect_refused_behind_valid_crcs(
      store, path,
      changed(first, std::string("X\x03\x00\x00\x00"
                                 "cpuK\x81tQK\x00",
                                 14)),
      {"storage \"0\" of 129 elements of 4 bytes does not fit its record of 512 bytes"});
  expect_refused_behind_valid_crcs(store, path,
                                   changed(first, std::string("X\x03\x00\x00\x00"
                                                              "cpuK\x80tQK\x01",
                                                              14)),
                                   {"a tensor reaching past its storage \"0\" of 128 elements"});
}

// A file in the reference's layout from a newer PyTorch: `param_groups` keys LibTorch has no equivalent of
// are read at their defaults (and a scheduler's `initial_lr` is ignored); any other value is refused.
TEST(CheckpointStoreDamage, NewerPyTorchsGroupKeysAreReadOnlyAtTheirDefaults) {
  namespace td = torchsystem::checkpoint_detail;
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee saved = make();
  saved.train(1);
  const fs::path path = store.path_for(ts::getname(saved.module()), ts::gethash(saved.module()));
  const auto write = [&](bool fused) {
    td::PyTree tree;
    td::TensorTable tensors;
    td::PyNode* root = tree.dict();
    tree.set(root, "epoch", tree.integer(1));
    tree.set(root, "nn", td::module_state_dict(tree, tensors, ts::module_state(*saved.module())));
    td::PyNode* optimizer = td::optimizer_state_dict(tree, tensors, *saved.optimizer);
    td::PyNode* group = optimizer->find("param_groups")->items[0];
    tree.set(group, "fused", tree.boolean(fused));
    tree.set(group, "initial_lr", tree.floating(0.5));
    tree.set(root, "optimizer", optimizer);
    tree.root = root;
    fs::create_directories(dir.path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    td::write_torch_save(tree, tensors, [&](const void* data, std::size_t size) {
      out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
      return size;
    });
  };
  write(true);
  Trainee fresh = make();
  const auto before = tensors_of(*fresh.module());
  const std::string message = checkpoint_error([&] { store.load(fresh.aggregate()); }).what();
  EXPECT_TRUE(contains(message, "optimizer.param_groups[0].fused is True: LibTorch has no equivalent"))
      << message;
  EXPECT_EQ(difference(before, tensors_of(*fresh.module())), "");
  write(false);
  const auto loaded = store.load(fresh.aggregate());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->epoch, 1);
  EXPECT_TRUE(loaded->metadata["model"]["arguments"].is_null())
      << "no metadata: the identity is the file name";
  EXPECT_EQ(difference(tensors_of(*saved.module()), tensors_of(*fresh.module())), "");
}

TEST(CheckpointStoreFormerFormat, ARunSavedInTheFormerFormatResumesAndItsNextSaveWritesTheNewOne) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee saved = make();
  saved.train(2);
  const fs::path legacy = save_legacy(store, saved.aggregate(), 2, {{"history", {1.0, 0.5}}});
  const auto listed = store.list();
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].path, legacy);
  EXPECT_EQ(listed[0].metadata["format"], "torchsystem-checkpoint/1");

  Trainee resumed = make();
  const auto found = store.load(resumed.aggregate());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->epoch, 2);
  EXPECT_EQ(found->path, legacy);
  EXPECT_EQ(difference(tensors_of(*saved.module()), tensors_of(*resumed.module())), "");
  EXPECT_EQ(adam_state(*resumed.optimizer, resumed.module()->parameters()[0])->step(), 2);

  const auto info = store.save(resumed.aggregate(3));
  EXPECT_EQ(info.path.extension(), ".pth");
  EXPECT_FALSE(fs::exists(legacy)) << "the former file is superseded";
  const auto after = store.list();
  ASSERT_EQ(after.size(), 1U);
  EXPECT_EQ(after[0].epoch, 3);
}

TEST(CheckpointStoreFormerFormat, AFailureMidwayPutsBackWhatWasAlreadyLoaded) {
  // An optimizer over fewer parameters has the same identity (parameters are not part of it), so the
  // metadata match; the model loads, then the optimizer's state does not fit: the model is put back.
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee saved = make();
  saved.train(1);
  save_legacy(store, saved.aggregate(), 1);
  Trainee partial = make();
  partial.optimizer = ts::create<torch::optim::Adam>(
      std::vector<torch::Tensor>{partial.module()->parameters()[0]}, "lr"_a = 0.01);
  partial.train(1);
  ASSERT_EQ(ts::gethash(partial.optimizer), ts::gethash(saved.optimizer));
  const auto before = tensors_of(*partial.module());
  ASSERT_EQ(partial.optimizer->state().size(), 1U);
  const auto* state_before = adam_state(*partial.optimizer, partial.module()->parameters()[0]);
  const auto exp_avg_before = state_before->exp_avg().clone();

  const std::string message = checkpoint_error([&] { store.load(partial.aggregate()); }).what();
  EXPECT_TRUE(contains(message, "cannot restore the optimizer (nothing was changed)")) << message;
  EXPECT_EQ(difference(before, tensors_of(*partial.module())), "") << "the model loaded first was put back";
  ASSERT_EQ(partial.optimizer->state().size(), 1U);
  const auto* state_after = adam_state(*partial.optimizer, partial.module()->parameters()[0]);
  ASSERT_NE(state_after, nullptr);
  EXPECT_TRUE(torch::equal(state_after->exp_avg(), exp_avg_before));
  EXPECT_EQ(state_after->step(), 1);
}

// --- 5. Names --------------------------------------------------------------------------------------------

TEST(CheckpointStoreNames, NamesThatAreNotPlainFileNamesAreRefused) {
  const ts::CheckpointStore store("/tmp/store");
  const std::vector<std::string> bad = {"../../x",
                                        "a/b",
                                        "",
                                        std::string("a\0b", 3),
                                        "..",
                                        ".",
                                        "é",
                                        "a b",
                                        "x\ny",
                                        "a\\b",
                                        std::string(300, 'a'),
                                        std::string(201, 'a')};
  for (const std::string& value : bad) {
    SCOPED_TRACE(value);
    const auto as_name = checkpoint_error([&] { store.path_for(value, "0123abcd"); });
    EXPECT_TRUE(contains(as_name.what(), "name")) << as_name.what();
    const auto as_hash = checkpoint_error([&] { store.path_for("MLP", value); });
    EXPECT_TRUE(contains(as_hash.what(), "hash")) << as_hash.what();
  }
  EXPECT_TRUE(contains(checkpoint_error([&] { store.path_for("../../x", "h"); }).what(), "\"../../x\""));
  EXPECT_TRUE(contains(checkpoint_error([&] { store.path_for("a/b", "h"); }).what(), "\"a/b\""));
  EXPECT_TRUE(
      contains(checkpoint_error([&] { store.path_for(std::string("a\0b", 3), "h"); }).what(), "\"a\\x00b\""));
  EXPECT_TRUE(contains(checkpoint_error([&] { store.path_for("é", "h"); }).what(), "\"\\xc3\\xa9\""));

  EXPECT_EQ(store.path_for("MLP", "af51a51a38f7ad81f9523360fafe7068"),
            fs::path("/tmp/store/MLP-af51a51a38f7ad81f9523360fafe7068.pth"));
  EXPECT_EQ(store.path_for("my_model-v1.2", "x..y"), fs::path("/tmp/store/my_model-v1.2-x..y.pth"));
  EXPECT_NO_THROW(store.path_for(std::string(200, 'a'), "0123"));
  EXPECT_EQ(checkpoint_error([&] { store.path_for(std::string(200, 'a'), std::string(60, 'b')); }).path(),
            "/tmp/store")
      << "a file name beyond 255 bytes";
}

TEST(CheckpointStoreNames, SavingAModelNamedOutsideTheStoreWritesNothing) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path() / "store");
  Trainee trainee = make();
  ts::setname(trainee.model, "../evil");
  const auto error = checkpoint_error([&] { store.save(trainee.aggregate(1)); });
  EXPECT_TRUE(contains(error.what(), "\"../evil\"")) << error.what();
  EXPECT_TRUE(entries(dir.path()).empty()) << "neither the store nor ../evil-<hash>.pt was created";

  Trainee hashed = make();
  ts::sethash(hashed.model, "../../x");
  EXPECT_TRUE(contains(checkpoint_error([&] { store.save(hashed.aggregate(1)); }).what(), "hash"));
  checkpoint_error([&] { store.load(hashed.aggregate()); });
  EXPECT_TRUE(entries(dir.path()).empty());
}

TEST(CheckpointStoreNames, AMissingMemberOrANegativeEpochIsRefused) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  const auto model = trainee.module();
  const auto criterion = trainee.criterion.ptr();
  const auto optimizer = trainee.optimizer;
  EXPECT_TRUE(contains(checkpoint_error([&] {
                         store.save({model, criterion, nullptr, 1});
                       }).what(),
                       "no optimizer"));
  EXPECT_TRUE(contains(checkpoint_error([&] {
                         store.save({model, nullptr, optimizer, 1});
                       }).what(),
                       "no criterion"));
  EXPECT_TRUE(contains(checkpoint_error([&] {
                         store.save({std::shared_ptr<torch::nn::Module>(), criterion, optimizer, 1});
                       }).what(),
                       "no model"));
  EXPECT_TRUE(contains(checkpoint_error([&] { store.save(trainee.aggregate(-1)); }).what(), "negative"));
  EXPECT_TRUE(entries(dir.path()).empty());
  // An object not created through the library has no identity.
  EXPECT_THROW(store.save({std::make_shared<torch::nn::LinearImpl>(2, 2), criterion, optimizer, 1}),
               ts::NotAnEntityError);
}

// --- 6. Atomicity under SIGKILL ---------------------------------------------------------------------------

/// Marks the model with `epoch`, so that a loaded checkpoint shows which save its tensors came from.
void mark(const Trainee& trainee, std::int64_t epoch) {
  torch::NoGradGuard no_grad;
  trainee.module()->parameters()[0][0][0].fill_(static_cast<double>(epoch));
}
std::int64_t marker(const Trainee& trainee) {
  return static_cast<std::int64_t>(trainee.module()->parameters()[0][0][0].item<double>());
}

TEST(CheckpointStoreAtomicity, AProcessKilledWhileSavingLeavesALoadableCheckpoint) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);  // the child of fork() must not need LibTorch's thread pool
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make("MLP", 784, 1024, 10);  // about 10 MB with Adam's state
  trainee.train(1);
  mark(trainee, 0);
  store.save(trainee.aggregate(0));

  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("random seed " + std::to_string(seed));
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> delay(5, 200);
  std::int64_t on_disk = 0;
  int rounds_with_progress = 0;
  for (int round = 0; round < 10; ++round) {
    int channel[2];
    ASSERT_EQ(::pipe(channel), 0);
    const pid_t child = ::fork();
    ASSERT_NE(child, -1);
    if (child == 0) {
      // The child saves epoch after epoch and reports each completed save; it never returns to gtest.
      ::close(channel[0]);
      for (std::int64_t epoch = on_disk + 1; epoch < on_disk + 100000; ++epoch) {
        mark(trainee, epoch);
        try {
          store.save(trainee.aggregate(epoch));
        } catch (...) {
          ::_exit(3);
        }
        if (::write(channel[1], &epoch, sizeof epoch) != sizeof epoch) ::_exit(4);
      }
      ::_exit(0);
    }
    ::close(channel[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay(random)));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child ended by itself: " << status;
    std::int64_t completed = on_disk;
    for (std::int64_t reported; ::read(channel[0], &reported, sizeof reported) == sizeof reported;)
      completed = reported;
    ::close(channel[0]);

    Trainee fresh = make("MLP", 784, 1024, 10);
    const auto found = store.load(fresh.aggregate());
    ASSERT_TRUE(found.has_value()) << "round " << round;
    // The last completed save is never lost; the save in progress is either wholly there or not at all.
    EXPECT_TRUE(found->epoch == completed || found->epoch == completed + 1)
        << "round " << round << ": epoch " << found->epoch << " on disk, " << completed << " completed";
    EXPECT_EQ(marker(fresh), found->epoch) << "the tensors are those of the save the metadata describe";
    if (found->epoch > on_disk) ++rounds_with_progress;
    on_disk = found->epoch;
  }
  EXPECT_GT(rounds_with_progress, 0) << "the child never completed a save: the test proved nothing";

  // Temporary files of killed saves may remain; list() ignores them, as it ignores this one.
  write_bytes(dir.path() / ".tmp-1-0000000000000000.pt", "partial");
  const auto listed = store.list();
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].epoch, on_disk);
  std::size_t temporaries = 0;
  for (const auto& name : entries(dir.path())) temporaries += name.starts_with(".tmp-") ? 1 : 0;
  std::cout << "[          ] " << on_disk << " epochs saved over 10 kills; " << temporaries - 1
            << " temporary files left by the kills\n";
  torch::set_num_threads(threads);
}

// --- 7. Listing ------------------------------------------------------------------------------------------

TEST(CheckpointStoreList, ListsEveryCheckpointSortedAndSkipsOtherFiles) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  EXPECT_TRUE(ts::CheckpointStore(dir.path() / "missing").list().empty());
  EXPECT_TRUE(store.list().empty());

  Trainee mlp = make("MLP");
  Trainee glu = make("GLU");
  const auto start = fs::file_time_type::clock::now() - std::chrono::seconds(2);
  store.save(mlp.aggregate(5));
  store.save(glu.aggregate(2));
  write_bytes(dir.path() / "notes.txt", "not a checkpoint");
  write_bytes(dir.path() / "README.pt", "no identity in this name");
  write_bytes(dir.path() / ".tmp-42-abc.pt", "a save in progress");
  write_bytes(dir.path() / ".hidden-abc.pt", "hidden");
  fs::create_directory(dir.path() / "Folder-abc.pt");

  const auto listed = store.list();
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].name, "GLU");
  EXPECT_EQ(listed[1].name, "MLP");
  EXPECT_EQ(listed[0].hash, ts::gethash(glu.module()));
  EXPECT_EQ(listed[1].hash, ts::gethash(mlp.module()));
  EXPECT_EQ(listed[0].epoch, 2);
  EXPECT_EQ(listed[1].epoch, 5);
  for (const auto& info : listed) {
    EXPECT_GT(info.size, 0U);
    EXPECT_EQ(info.size, fs::file_size(info.path));
    EXPECT_GE(info.modified, start);
    EXPECT_LE(info.modified, fs::file_time_type::clock::now() + std::chrono::seconds(2));
    EXPECT_EQ(info.path, store.path_for(info.name, info.hash));
    EXPECT_EQ(info.metadata["model"]["name"], info.name);
  }

  write_bytes(dir.path() / "file", "x");
  const auto error = checkpoint_error([&] { ts::CheckpointStore(dir.path() / "file").list(); });
  EXPECT_TRUE(contains(error.what(), "not a directory")) << error.what();
  EXPECT_TRUE(contains(
      checkpoint_error([&] { ts::CheckpointStore(dir.path() / "file").save(mlp.aggregate(1)); }).what(),
      "cannot create the directory"));
}

// --- 8. The command line ---------------------------------------------------------------------------------

class CheckpointStoreCli : public cli_runner::Cli {
 protected:
  void SetUp() override {
    cli_runner::Cli::SetUp();
    store_ = path("store");
    const ts::CheckpointStore store(store_);
    Trainee mlp = make("MLP");
    Trainee glu = make("GLU", 4, 8, 2);
    mlp_ = store.save(mlp.aggregate(3));
    glu_ = store.save(glu.aggregate(1));
  }

  fs::path store_;
  ts::CheckpointInfo mlp_;
  ts::CheckpointInfo glu_;
};

TEST_F(CheckpointStoreCli, JsonDescribesEachCheckpoint) {
  const auto result = run({"checkpoints", store_.string(), "--json"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.err, "");
  const ts::Json listed = ts::parse_json(result.out);
  ASSERT_TRUE(listed.is_array());
  ASSERT_EQ(listed.size(), 2U);
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& info = i == 0 ? glu_ : mlp_;
    const ts::Json& entry = listed[i];
    EXPECT_EQ(entry["name"], info.name);
    EXPECT_EQ(entry["hash"], info.hash);
    EXPECT_EQ(entry["epoch"], info.epoch);
    EXPECT_EQ(ts::dumps(entry["arguments"]), ts::dumps(info.metadata["model"]["arguments"]));
    EXPECT_EQ(entry["optimizer"]["name"], "Adam");
    EXPECT_EQ(entry["size"], fs::file_size(info.path));
    EXPECT_EQ(entry["path"], info.path.string());
    ASSERT_TRUE(entry["modified"].is_string());
    EXPECT_TRUE(std::regex_match(entry["modified"].get<std::string>(), iso)) << entry["modified"];
  }
  EXPECT_EQ(listed[0]["arguments"]["input_size"], 4);
}

TEST_F(CheckpointStoreCli, PlainIsATableOneLineEach) {
  const auto result = run({"checkpoints", store_.string()});
  EXPECT_EQ(result.status, 0) << result.err;
  const auto lines = cli_runner::split_lines(result.out);
  ASSERT_EQ(lines.size(), 3U) << result.out;
  EXPECT_TRUE(lines[0].starts_with("NAME ")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("GLU   " + glu_.hash + "      1  ")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("MLP   " + mlp_.hash + "      3  ")) << lines[2];
  EXPECT_TRUE(lines[2].ends_with(ts::dumps(mlp_.metadata["model"]["arguments"]))) << lines[2];
  EXPECT_TRUE(contains(lines[2], std::to_string(mlp_.size))) << lines[2];
  EXPECT_TRUE(std::regex_search(lines[2], std::regex(R"(  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  \{)")))
      << lines[2];
}

TEST_F(CheckpointStoreCli, ADamagedFileIsReportedAfterTheGoodOnes) {
  const fs::path broken = store_ / "Broken-0123.pt";
  cli_runner::write_file(broken, "not an archive");
  const auto plain = run({"checkpoints", store_.string()});
  EXPECT_EQ(plain.status, 1);
  EXPECT_EQ(cli_runner::split_lines(plain.out).size(), 3U) << plain.out;
  EXPECT_TRUE(
      plain.err.starts_with("torchsystem checkpoints: " + broken.string() + ": not a readable checkpoint"))
      << plain.err;
  const auto json = run({"checkpoints", "--json", store_.string()});
  EXPECT_EQ(json.status, 1);
  EXPECT_EQ(ts::parse_json(json.out).size(), 2U);
  EXPECT_TRUE(contains(json.err, broken.string())) << json.err;
}

TEST_F(CheckpointStoreCli, BadDirectoriesAndBadUsage) {
  const auto missing = run({"checkpoints", path("missing").string()});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_EQ(missing.err, "torchsystem checkpoints: " + path("missing").string() + ": no such directory\n");
  cli_runner::write_file(path("file"), "x");
  const auto file = run({"checkpoints", path("file").string()});
  EXPECT_EQ(file.status, 1);
  EXPECT_TRUE(contains(file.err, "not a directory")) << file.err;
  fs::create_directory(path("empty"));
  const auto empty = run({"checkpoints", path("empty").string()});
  EXPECT_EQ(empty.status, 0);
  EXPECT_EQ(empty.out, "no checkpoints in " + path("empty").string() + "\n");
  EXPECT_EQ(run({"checkpoints", path("empty").string(), "--json"}).out, "[]\n");

  EXPECT_EQ(run({"checkpoints"}).status, 2);
  EXPECT_EQ(run({"checkpoints", "a", "b"}).status, 2);
  const auto unknown = run({"checkpoints", store_.string(), "--yaml"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_TRUE(contains(unknown.err, "unknown option '--yaml'")) << unknown.err;
  const auto help = run({"checkpoints", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_TRUE(help.out.starts_with("usage: torchsystem checkpoints DIR [--json]")) << help.out;
  EXPECT_TRUE(contains(run({"--help"}).out, "checkpoints")) << "the program lists the command";
}

// --- 9. At scale: one writer, no going back, metadata-only listing, leftovers, queries ------------------

TEST(CheckpointStoreLock, AnIdentityIsHeldByOneProcessAndFreedWhenItIsKilled) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path() / "weights");
  int channel[2];
  ASSERT_EQ(::pipe(channel), 0);
  const pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // Holds the lock until it is killed; it never returns to gtest.
    ::close(channel[0]);
    const auto lock = store.try_lock("MLP", "abc");
    const char held = lock ? 'y' : 'n';
    if (::write(channel[1], &held, 1) != 1) ::_exit(4);
    for (;;) ::pause();
  }
  ::close(channel[1]);
  char held = 0;
  ASSERT_EQ(::read(channel[0], &held, 1), 1);
  ::close(channel[0]);
  ASSERT_EQ(held, 'y');

  EXPECT_FALSE(store.try_lock("MLP", "abc").has_value()) << "a second holder";
  const std::string holder = store.lock_holder("MLP", "abc");
  EXPECT_TRUE(holder.starts_with("pid " + std::to_string(child) + " on host ")) << holder;
  EXPECT_TRUE(std::regex_search(holder, std::regex(R"( since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$)"))) << holder;
  EXPECT_TRUE(store.try_lock("MLP", "abd").has_value()) << "another identity is not blocked";
  EXPECT_TRUE(store.try_lock("GLU", "abc").has_value()) << "another identity is not blocked";
  EXPECT_EQ(store.lock_path_for("MLP", "abc"), dir.path() / "weights" / "MLP-abc.lock");

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto lock = store.try_lock("MLP", "abc");
  ASSERT_TRUE(lock.has_value()) << "the kernel released the killed holder's lock";
  EXPECT_TRUE(store.lock_holder("MLP", "abc").starts_with("pid " + std::to_string(::getpid()) + " "));
  EXPECT_TRUE(store.list().empty()) << "lock files are not checkpoints";
  lock.reset();
  EXPECT_TRUE(store.try_lock("MLP", "abc").has_value()) << "released when the holder is destroyed";
}

TEST(CheckpointStoreEpochs, ASaveNeverGoesBackToAnEarlierEpoch) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  store.save(trainee.aggregate(6));
  const auto error = checkpoint_error([&] { store.save(trainee.aggregate(4)); });
  EXPECT_EQ(error.path(), store.path_for("MLP", ts::gethash(trainee.module())).string());
  EXPECT_TRUE(contains(error.what(), "cannot save epoch 4: the store holds epoch 6")) << error.what();
  EXPECT_EQ(store.list().at(0).epoch, 6) << "the later checkpoint is kept";
  EXPECT_EQ(entries(dir.path()).size(), 2U) << "nothing was written";
  EXPECT_EQ(store.save(trainee.aggregate(6)).epoch, 6) << "the same epoch may be saved again";
  EXPECT_EQ(store.save(trainee.aggregate(7)).epoch, 7);
}

TEST(CheckpointStoreList, ListingReadsTheMetadataNotTheTensors) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make("MLP", 64, 256, 10);
  const fs::path path = store.save(trainee.aggregate(2)).path;
  std::string bytes = read_bytes(path);
  const std::size_t data = record_data(bytes, "/data/0");
  bytes[data + 100] = static_cast<char>(bytes[data + 100] ^ 0x40);
  write_bytes(path, bytes);

  const auto listed = store.list();
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].epoch, 2);
  EXPECT_EQ(ts::CheckpointStore::inspect(path, ts::CheckpointCheck::metadata).epoch, 2);
  const auto full = checkpoint_error([&] { ts::CheckpointStore::inspect(path); });
  EXPECT_TRUE(contains(full.what(), "record 'archive/data/0' is corrupted")) << full.what();
  std::vector<std::string> damaged;
  EXPECT_TRUE(store.list(true, &damaged, ts::CheckpointCheck::full).empty());
  EXPECT_EQ(damaged, std::vector<std::string>{full.what()});
  Trainee fresh = make("MLP", 64, 256, 10);
  EXPECT_TRUE(contains(checkpoint_error([&] { store.load(fresh.aggregate()); }).what(), "corrupted"));
}

/// A pid that was running and is gone: a child that exited and was reaped.
pid_t finished_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

TEST(CheckpointStoreTemporaries, OnlyThoseOfSavesWhoseProcessIsGoneAreRemoved) {
  const TempDir dir;
  const ts::CheckpointStore store(dir.path());
  Trainee trainee = make();
  store.save(trainee.aggregate(1));
  const std::string dead = std::to_string(finished_pid());
  const std::string live = std::to_string(::getpid());
  write_bytes(dir.path() / (".tmp-" + dead + "-00ab.pth"), "a killed save");
  write_bytes(dir.path() / (".tmp-" + dead + "-00cd.json"), "a killed save's sidecar");
  write_bytes(dir.path() / (".tmp-" + live + "-00ef.pth"), "a save of a running process");
  write_bytes(dir.path() / (".tmp-" + dead + "-0a0b.pth"), "locked by a writer");
  write_bytes(dir.path() / ".tmp-notapid.pth", "not named by a save");
  const int writer = ::open((dir.path() / (".tmp-" + dead + "-0a0b.pth")).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  ASSERT_EQ(::flock(writer, LOCK_EX), 0);

  const auto removed = store.clean_temporaries();
  ::close(writer);
  EXPECT_EQ(removed, (std::vector<fs::path>{dir.path() / (".tmp-" + dead + "-00ab.pth"),
                                            dir.path() / (".tmp-" + dead + "-00cd.json")}));
  const auto left = entries(dir.path());
  EXPECT_EQ(left.size(), 5U);
  for (const auto& name :
       {".tmp-" + live + "-00ef.pth", ".tmp-" + dead + "-0a0b.pth", std::string(".tmp-notapid.pth")})
    EXPECT_NE(std::find(left.begin(), left.end(), name), left.end()) << name;
  EXPECT_EQ(store.list().size(), 1U);
  EXPECT_TRUE(ts::CheckpointStore(dir.path() / "missing").clean_temporaries().empty());
}

TEST_F(CheckpointStoreCli, VerifyReadsEveryByteAndReportsEachDamagedFile) {
  const auto good = run({"checkpoints", "verify", store_.string()});
  EXPECT_EQ(good.status, 0) << good.err;
  EXPECT_EQ(good.out, "ok " + glu_.path.string() + "\nok " + mlp_.path.string() + "\n2 checked, 0 damaged\n");

  std::string bytes = cli_runner::read_file(mlp_.path);
  const std::size_t data = record_data(bytes, "/data/0");
  bytes[data] = static_cast<char>(bytes[data] ^ 1);
  cli_runner::write_file(mlp_.path, bytes);
  EXPECT_EQ(run({"checkpoints", store_.string()}).status, 0) << "the listing does not read the tensors";
  const auto damaged = run({"checkpoints", "verify", store_.string()});
  EXPECT_EQ(damaged.status, 1);
  EXPECT_EQ(damaged.out, "ok " + glu_.path.string() + "\n2 checked, 1 damaged\n");
  EXPECT_TRUE(damaged.err.starts_with("torchsystem checkpoints verify: " + mlp_.path.string() +
                                      ": not a readable checkpoint: record 'archive/data/0' is corrupted"))
      << damaged.err;
  const auto file = run({"checkpoints", "verify", mlp_.path.string()});
  EXPECT_EQ(file.status, 1);
  EXPECT_EQ(file.err, damaged.err);
  EXPECT_EQ(run({"checkpoints", "verify", glu_.path.string()}).status, 0);
  EXPECT_EQ(run({"checkpoints", "verify", path("missing").string()}).status, 1);
  EXPECT_EQ(run({"checkpoints", "verify"}).status, 2);
}

TEST_F(CheckpointStoreCli, SortTopAndWhereAnswerFromTheMetadata) {
  const ts::CheckpointStore store(store_);
  const auto history = [](double accuracy) {
    return ts::Json{{"history", ts::Json::array({{{"epoch", 1}, {"test_accuracy", 0.1}},
                                                 {{"epoch", 2}, {"test_accuracy", accuracy}}})}};
  };
  Trainee a = make("MLP", 8, 17);
  Trainee b = make("MLP", 8, 18);
  Trainee c = make("GLU", 8, 19);
  const auto best = store.save(a.aggregate(2), history(0.9));
  const auto middle = store.save(b.aggregate(2), history(0.5));
  const auto glu = store.save(c.aggregate(2), history(0.95));
  const auto names = [&](const std::vector<std::string>& arguments) {
    std::vector<std::string> command = {"checkpoints", store_.string(), "--json"};
    command.insert(command.end(), arguments.begin(), arguments.end());
    const auto result = run(command);
    EXPECT_EQ(result.status, 0) << result.err;
    std::vector<std::string> hashes;
    for (const auto& entry : ts::parse_json(result.out)) hashes.push_back(entry["hash"].get<std::string>());
    return hashes;
  };
  // Those without the metric (the fixture's two) come last, in the store's order.
  EXPECT_EQ(names({"--sort", "test_accuracy"}),
            (std::vector<std::string>{glu.hash, best.hash, middle.hash, glu_.hash, mlp_.hash}));
  EXPECT_EQ(names({"--sort", "test_accuracy", "--top", "2", "--where", "name=MLP"}),
            (std::vector<std::string>{best.hash, middle.hash}));
  EXPECT_EQ(names({"--sort", "test_accuracy:asc", "--where", "name=MLP", "--top", "1"}),
            (std::vector<std::string>{middle.hash}));
  EXPECT_EQ(names({"--where", "arguments.hidden_size=18"}), (std::vector<std::string>{middle.hash}));
  EXPECT_EQ(names({"--where", "epoch=3"}), (std::vector<std::string>{mlp_.hash}));
  EXPECT_EQ(names({"--where", "name=GLU", "--where", "epoch=2"}), (std::vector<std::string>{glu.hash}));
  EXPECT_TRUE(names({"--where", "optimizer=SGD"}).empty());
  const auto table = run({"checkpoints", store_.string(), "--sort", "test_accuracy", "--top", "1"});
  EXPECT_EQ(cli_runner::split_lines(table.out).size(), 2U) << table.out;
  EXPECT_TRUE(contains(table.out, glu.hash)) << table.out;

  const auto unknown = run({"checkpoints", store_.string(), "--sort", "accuracyy"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_TRUE(contains(unknown.err, "unknown key 'accuracyy'")) << unknown.err;
  EXPECT_EQ(run({"checkpoints", store_.string(), "--top", "0"}).status, 2);
  EXPECT_EQ(run({"checkpoints", store_.string(), "--where", "name"}).status, 2);
  EXPECT_EQ(run({"checkpoints", store_.string(), "--sort"}).status, 2);
}

TEST_F(CheckpointStoreCli, TemporariesOfGoneSavesAreRemovedAndReported) {
  const std::string dead = std::to_string(finished_pid());
  const fs::path leftover = store_ / (".tmp-" + dead + "-0123.pth");
  const fs::path live = store_ / (".tmp-" + std::to_string(::getpid()) + "-0123.pth");
  cli_runner::write_file(leftover, "a killed save");
  cli_runner::write_file(live, "a save in progress");
  const auto result = run({"checkpoints", store_.string(), "--json"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(ts::parse_json(result.out).size(), 2U);
  EXPECT_EQ(result.err, "torchsystem checkpoints: removed " + leftover.string() +
                            ", a temporary file of a save whose process is gone\n");
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_TRUE(fs::exists(live));
}

}  // namespace checkpoint_store_test
