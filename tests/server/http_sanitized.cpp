// The HTTP layer alone (server.cpp, routes.cpp, metrics.cpp, the page; no LibTorch, whose libraries cannot
// be instrumented) under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer, driven by hostile
// clients: the coroutines' lifetimes are where a memory error would hide. Built on demand (docs/serving.md):
//   cmake --build build --target server_http_sanitized && build/tests/server_http_sanitized
// Prints "N passed, M failed"; exits 1 on a failure, and the sanitizers abort on any error they find.
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "http_client.hpp"
#include "server.hpp"

namespace {

using namespace std::chrono_literals;
namespace server = torchsystem::server;

server::Router test_routes() {
  server::Router router;
  router.add({"POST", "/echo", server::Execution::io, server::Access::token,
              [](const server::Request& request) { return server::json_response(request.body); }});
  router.add({"GET", "/work/{a}-{b}", server::Execution::worker, server::Access::token,
              [](const server::Request& request) {
                std::this_thread::sleep_for(5ms);
                return server::json_response("{\"a\": \"" + request.params.at("a") + "\"}");
              }});
  return router;
}

}  // namespace

int main() {
  server::ServerOptions options;
  options.port = 0;
  options.max_body_bytes = 1024;
  options.read_timeout = 300ms;
  options.idle_timeout = 500ms;
  options.max_connections = 8;
  options.max_queued_jobs = 4;
  server::Server served(options, test_routes());
  std::thread running([&] { served.run(); });
  const auto port = served.port();

  int passed = 0;
  int failed = 0;
  const auto expect = [&](bool condition, const char* what) {
    condition ? ++passed : ++failed;
    if (!condition) std::printf("failed: %s\n", what);
  };
  expect(test_http::request(port, "POST", "/echo", "{\"x\": 1}").body == "{\"x\": 1}", "echo");
  expect(test_http::request(port, "POST", "/echo", std::string(2000, 'x')).status == 413, "body limit");
  expect(test_http::request(port, "GET", "/work/x-y").body == "{\"a\": \"x\"}", "worker route");
  expect(test_http::request(port, "GET", "/work/x%zz-y").status == 400, "bad escape");
  expect(test_http::request(port, "GET", "/metrics").status == 200, "metrics");
  expect(test_http::request(port, "GET", "/").status == 200, "page");
  {
    test_http::Connection chunked(port);
    chunked.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + std::string(1024, 'a') +
                 "\r\n400\r\n");
    const auto answer = chunked.read();
    expect(answer && answer->status == 413, "chunked body limit");
  }
  {
    test_http::Connection big_header(port);
    big_header.send("GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n");
    const auto answer = big_header.read();
    expect(answer && answer->status == 431, "header limit");
  }
  {
    test_http::Connection garbage(port);
    garbage.send("GARBAGE\r\n\r\n");
    const auto answer = garbage.read();
    expect(answer && answer->status == 400, "malformed request");
  }
  {
    test_http::Connection slow(port);
    slow.send("GET /metr");
    expect(slow.closed_within(2s), "read deadline");
  }
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int client = 0; client < 16; ++client) {
    clients.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        test_http::Connection connection(port);
        connection.send(test_http::format_request("GET", "/work/a-b"));
        const auto answer = connection.read();
        if (answer && (answer->status == 200 || answer->status == 503)) ++answered;
      }
    });
  }
  for (auto& client : clients) client.join();
  expect(answered == 16 * 20, "every client of a full queue answered 200 or 503");
  std::vector<std::unique_ptr<test_http::Connection>> idle;
  for (int i = 0; i < 12; ++i) {
    idle.push_back(std::make_unique<test_http::Connection>(port));
    idle.back()->send(test_http::format_request("GET", "/v2/health/live"));
    idle.back()->read();
  }
  expect(test_http::request(port, "GET", "/v2/health/live").status == 200, "idle connections evicted");
  test_http::Connection in_flight(port);
  const std::string text = test_http::format_request("POST", "/echo", "{\"y\": 2}");
  in_flight.send(text.substr(0, text.size() - 3));
  std::this_thread::sleep_for(50ms);
  served.stop();
  std::this_thread::sleep_for(50ms);
  in_flight.send(text.substr(text.size() - 3));
  const auto last = in_flight.read();
  expect(last && last->body == "{\"y\": 2}", "stop finishes the request in flight");
  running.join();
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
