// The HTTP/1.1 server of `torchsystem serve`, on Boost.Beast: connections, limits, deadlines, the bearer
// token, metrics and graceful shutdown. What it answers comes from a Router (routes.hpp).
//
//   Router router;
//   api.add_routes(router);                      // api.hpp: registry, checkpoints, inference
//   Server server(ServerOptions{.port = 0}, std::move(router));
//   std::printf("listening on http://%s:%u\n", server.host().c_str(), server.port());
//   server.run();                                // until stop() or SIGINT/SIGTERM
//
// Every limit is an option with a safe default, so a client can hold at most a bounded share of the
// server: its bytes (header and body limits, for every framing, chunked included), its time (a deadline
// for a whole request, another for an idle keep-alive connection), its connections (a cap, reached by
// closing the longest-idle one first) and its work (a bounded queue to the worker pool, another to the
// pool that builds models; beyond either, 503 with Retry-After).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "routes.hpp"

namespace torchsystem::server {

struct ServerOptions {
  std::string host = "127.0.0.1";  ///< loopback unless told otherwise
  std::uint16_t port = 8080;       ///< 0: an ephemeral port, read back with Server::port()
  std::string token;               ///< when not empty, `Authorization: Bearer <token>` on token routes
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{10'000};   ///< a whole request, header and body
  std::chrono::milliseconds idle_timeout{30'000};   ///< a keep-alive connection waiting for its next request
  std::chrono::milliseconds write_timeout{30'000};  ///< a whole response
  std::size_t max_connections = 256;
  std::size_t workers = 2;           ///< threads of the worker pool (Execution::worker routes)
  std::size_t max_queued_jobs = 64;  ///< waiting or running jobs beyond which a worker route is a 503
  /// Threads building models (Execution::build routes, and worker routes whose model must be loaded
  /// first): apart from the workers, so a slow build never holds up inference on the models loaded.
  std::size_t build_workers = 1;
  std::size_t max_queued_builds = 4;  ///< waiting or running builds beyond which a build is a 503
  bool handle_signals = false;        ///< stop gracefully on SIGINT and SIGTERM
  /// Extra lines for /metrics (Prometheus text), such as the models loaded; called on the I/O thread.
  std::function<std::string()> extra_metrics;
};

class Server {
 public:
  /// Binds and listens at once (so port() is known before run()); throws std::system_error when the
  /// address cannot be bound. Adds the server's own routes (health, /v2, /metrics, /openapi.json, the
  /// web page) to `router`.
  Server(ServerOptions options, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::string& host() const noexcept;
  std::uint16_t port() const noexcept;
  /// Every route, the server's own included (the OpenAPI document lists exactly these).
  const std::vector<Route>& routes() const noexcept;

  /// Serves until stop(); then finishes the requests in flight and returns. Call once.
  void run();
  /// Stops accepting, closes idle connections, lets requests in flight finish. Any thread, any time.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torchsystem::server
