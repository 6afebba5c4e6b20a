// The server tests' fixture (see server_fixture.hpp).
#include "server_fixture.hpp"

#include <c10/core/InferenceMode.h>
#include <torch/optim/optimizer.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "api.hpp"
#include "seed_models.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/torch/catalog.hpp"
#include "torchsystem/torch/module.hpp"

namespace server_test {
namespace {

namespace ts = torchsystem;

struct GateState {
  std::mutex mutex;
  std::condition_variable changed;
  bool closed = false;
  int blocked = 0;
};

GateState& gate() {
  static GateState* instance = new GateState;
  return *instance;
}

/// A model whose construction waits while a BuildGate is closed.
struct GateImpl : torch::nn::Module {
  explicit GateImpl(std::int64_t /*id*/) {
    GateState& g = gate();
    std::unique_lock lock(g.mutex);
    ++g.blocked;
    g.changed.notify_all();
    g.changed.wait_for(lock, std::chrono::seconds(30), [&] { return !g.closed; });
    --g.blocked;
  }
  torch::Tensor forward(torch::Tensor input) { return input; }
};
TORCH_MODULE(Gate);

/// The test's models, as a program's plugin registry: the seed's MLP and GLU, nesting the catalog's, and
/// the Gate.
ts::Registry<torch::nn::Module>& test_models() {
  static ts::Registry<torch::nn::Module>* models = [] {
    auto* registry = new ts::Registry<torch::nn::Module>("test models");
    registry->include(ts::torch_catalog().modules);
    seed::register_seed_models(*registry);
    registry->register_class<Gate(std::int64_t)>("id");
    return registry;
  }();
  return *models;
}

std::vector<float> floats(const torch::Tensor& tensor) {
  const torch::Tensor flat = tensor.contiguous();
  return {flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()};
}

/// Builds the aggregate of `model`, saves it after `epoch` epochs and returns the model, in eval mode.
torch::nn::AnyModule save(const ts::CheckpointStore& store, const ts::Registry<torch::nn::Module>& models,
                          const ts::Json& model_config, std::int64_t epoch, const ts::Json& extra) {
  auto model = models.create_as<torch::nn::AnyModule>(model_config);
  auto criterion =
      ts::torch_catalog().losses.create_as<torch::nn::AnyModule>(ts::Json{{"name", "CrossEntropyLoss"}});
  auto optimizer = ts::torch_catalog().optimizers.create(
      ts::Json{{"name", "Adam"}, {"arguments", {{"lr", 0.01}}}}, model.ptr()->parameters());
  store.save({model.ptr(), criterion.ptr(), optimizer, epoch}, extra);
  model.ptr()->eval();
  return model;
}

}  // namespace

std::string save_diverged_linear(const std::filesystem::path& directory) {
  const ts::Json config = {{"name", "Linear"}, {"arguments", {{"in_features", 2}, {"out_features", 1}}}};
  auto model = ts::torch_catalog().modules.create_as<torch::nn::AnyModule>(config);
  {
    const torch::NoGradGuard no_grad;
    model.ptr()->named_parameters()["weight"].copy_(torch::tensor({{std::nanf(""), 1.0F}}));
  }
  auto criterion = ts::torch_catalog().losses.create_as<torch::nn::AnyModule>(ts::Json{{"name", "MSELoss"}});
  auto optimizer = ts::torch_catalog().optimizers.create(
      ts::Json{{"name", "SGD"}, {"arguments", {{"lr", 0.1}}}}, model.ptr()->parameters());
  ts::CheckpointStore(directory).save({model.ptr(), criterion.ptr(), optimizer, 1});
  return ts::gethash(model.ptr());
}

StoredModels make_store(const std::filesystem::path& directory) {
  torch::manual_seed(7);
  const ts::CheckpointStore store(directory);
  StoredModels stored;
  const ts::Json history = ts::Json::array(
      {{{"epoch", 1}, {"loss", 1.5}, {"accuracy", 0.4}, {"test_loss", 1.25}, {"test_accuracy", 0.5}},
       {{"epoch", 2}, {"loss", 0.75}, {"accuracy", 0.7}, {"test_loss", 0.8}, {"test_accuracy", 0.75}}});
  const ts::Json mlp_config = {{"name", "MLP"},
                               {"arguments",
                                {{"input_size", 4},
                                 {"hidden_size", 8},
                                 {"output_size", 3},
                                 {"dropout", 0.5},
                                 {"activation", "ReLU"}}}};
  auto mlp = save(store, test_models(), mlp_config, 2, {{"history", history}});
  stored.mlp_hash = ts::gethash(mlp.ptr());
  stored.mlp_input = {0.5f, -1.25f, 2.0f, 0.0f, 1.0f, 1.5f, -0.75f, 3.0f};
  const ts::Json embedding_config = {{"name", "Embedding"},
                                     {"arguments", {{"num_embeddings", 10}, {"embedding_dim", 3}}}};
  auto embedding = save(store, ts::torch_catalog().modules, embedding_config, 1, ts::Json::object());
  stored.embedding_hash = ts::gethash(embedding.ptr());
  stored.embedding_input = {1, 9, 0, 4};
  {
    c10::InferenceMode inference;
    const torch::Tensor mlp_in = torch::from_blob(stored.mlp_input.data(), {2, 4}).clone();
    stored.mlp_expected = floats(mlp.forward(mlp_in));
    const torch::Tensor indices =
        torch::from_blob(stored.embedding_input.data(), {2, 2}, torch::TensorOptions().dtype(torch::kLong))
            .clone();
    stored.embedding_expected = floats(embedding.forward(indices));
  }
  return stored;
}

BuildGate::BuildGate() {
  const std::lock_guard lock(gate().mutex);
  gate().closed = true;
}

BuildGate::~BuildGate() {
  open();
}

void BuildGate::open() {
  const std::lock_guard lock(gate().mutex);
  gate().closed = false;
  gate().changed.notify_all();
}

bool BuildGate::wait_for_blocked(int count) const {
  std::unique_lock lock(gate().mutex);
  return gate().changed.wait_for(lock, std::chrono::seconds(30), [&] { return gate().blocked >= count; });
}

struct TestServer::State {
  ts::server::Api api;
  std::unique_ptr<ts::server::Server> server;
  std::thread thread;

  State(const std::filesystem::path& store, ts::server::ServerOptions options,
        std::vector<ts::server::Route> extra_routes)
      : api(ts::server::ApiOptions{
            .store = store, .registries = ts::Registries(test_models()), .max_models = 2}) {
    ts::server::Router router;
    api.add_routes(router);
    for (auto& route : extra_routes) router.add(std::move(route));
    options.port = 0;
    options.extra_metrics = [this] { return api.metrics(); };
    server = std::make_unique<ts::server::Server>(std::move(options), std::move(router));
    thread = std::thread([this] { server->run(); });
  }
};

TestServer::TestServer(const std::filesystem::path& store, ts::server::ServerOptions options,
                       std::vector<ts::server::Route> extra_routes)
    : state_(std::make_unique<State>(store, std::move(options), std::move(extra_routes))) {}

TestServer::~TestServer() {
  stop();
  join();
}

std::uint16_t TestServer::port() const {
  return state_->server->port();
}
const std::vector<ts::server::Route>& TestServer::routes() const {
  return state_->server->routes();
}
void TestServer::stop() {
  state_->server->stop();
}
void TestServer::join() {
  if (state_->thread.joinable()) state_->thread.join();
}

}  // namespace server_test
