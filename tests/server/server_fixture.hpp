// The server tests' fixture: a checkpoint store made by the real CheckpointStore (an MLP of the seed's
// and an Embedding, each with the outputs the model gives in-process), and the server serving it on
// 127.0.0.1 with an ephemeral port, in this process. No LibTorch in this header: only server_fixture.cpp
// compiles LibTorch's headers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "server.hpp"

namespace server_test {

struct StoredModels {
  std::string mlp_hash;          ///< seed MLP(4, 8, 3, dropout 0.5, ReLU), saved after epoch 2 with a history
  std::vector<float> mlp_input;  ///< shape [2, 4]
  std::vector<float> mlp_expected;            ///< shape [2, 3]: the model's output in eval and inference mode
  std::string embedding_hash;                 ///< Embedding(10, 3)
  std::vector<std::int64_t> embedding_input;  ///< shape [2, 2]
  std::vector<float> embedding_expected;      ///< shape [2, 2, 3]
};

/// Saves the two checkpoints into `store` through CheckpointStore::save; the same every call.
StoredModels make_store(const std::filesystem::path& store);

/// Saves into `store` a Linear(2, 1) whose weight is [NaN, 1] (a model whose training diverged) and
/// returns its hash: every output it gives is NaN.
std::string save_diverged_linear(const std::filesystem::path& store);

/// While one is alive, building the test registry's `Gate` model (`{"name": "Gate", "arguments": {"id": N}}`)
/// blocks in its constructor, for at most 30 s: a build whose end the test decides.
class BuildGate {
 public:
  BuildGate();
  ~BuildGate();  ///< opens the gate
  BuildGate(const BuildGate&) = delete;
  BuildGate& operator=(const BuildGate&) = delete;
  /// Waits (up to 30 s) until `count` builds are blocked at the gate; false if they never were.
  bool wait_for_blocked(int count) const;
  void open();
};

/// A server on the store, running on its own thread until destroyed (or stopped and joined).
class TestServer {
 public:
  explicit TestServer(const std::filesystem::path& store, torchsystem::server::ServerOptions options = {},
                      std::vector<torchsystem::server::Route> extra_routes = {});
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const;
  const std::vector<torchsystem::server::Route>& routes() const;
  void stop();
  /// Waits until the server's run() returns.
  void join();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace server_test
