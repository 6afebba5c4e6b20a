// `torchsystem serve --store DIR`: the registry, the checkpoint store and inference over HTTP
// (docs/serving.md).
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "api.hpp"
#include "command.hpp"
#include "program.hpp"
#include "server.hpp"

namespace torchsystem::cli {
namespace {

constexpr std::string_view usage_text = R"(usage: torchsystem serve --store DIR [OPTIONS]

Serves the registry, the checkpoints of the store in DIR and inference on them over HTTP/1.1:
  /v1/registry/types, /v1/identity, /v1/registry/build, /v1/checkpoints, /v2/models/... (the Open
  Inference Protocol v2), /v2/health/live, /metrics, /openapi.json, and a web page at /.
Prints "listening on http://HOST:PORT" once it accepts connections. Ctrl-C or SIGTERM stops it after
the requests in flight are answered. See docs/serving.md.

Options:
  --store DIR            the checkpoint store (required); models come from it only
  --host HOST            the address to bind (default 127.0.0.1: this machine only)
  --port PORT            the port (default 8080; 0 picks a free one)
  --token TOKEN          require "Authorization: Bearer TOKEN" on every route but the health checks
                         and the page's files; TORCHSYSTEM_TOKEN sets it without showing it in ps
  --max-body BYTES       the largest request body (default 16777216)
  --max-header BYTES     the largest request header (default 16384)
  --read-timeout SEC     the time a client has to send a whole request (default 10)
  --idle-timeout SEC     the time a keep-alive connection may wait for its next request (default 30)
  --max-connections N    open connections at most (default 256); then the longest idle is closed
  --workers N            threads running models and reading files (default 2)
  --queue N              jobs waiting or running at most (default 64); then 503 with Retry-After
  --build-workers N      threads building and loading models, apart from the workers (default 1)
  --build-queue N        builds waiting or running at most (default 4); then 503 with Retry-After
  --max-build-mb N       what one /v1/registry/build may allocate, in MiB (default 1024)
  --max-model-mb N       what loading one checkpoint may allocate, in MiB (default 8192)
  --max-models N         models kept loaded for inference (default 4)
  --plugin PATH          load a plugin, so its models can be listed, built and served; may be repeated
  -h, --help             print this help

Exit status: 0 after a clean stop; 1 when the address cannot be bound or the store is not a
directory; 2 when the command line is wrong.
)";

struct ServeOptions {
  server::ServerOptions server;
  server::ApiOptions api;
};

ServeOptions parse(std::span<const std::string_view> arguments) {
  ServeOptions options;
  options.server.handle_signals = true;
  // An empty token would turn authentication off without a word: it is a mistake, never a choice.
  if (const char* token = std::getenv("TORCHSYSTEM_TOKEN")) {
    if (*token == '\0') throw UsageError("TORCHSYSTEM_TOKEN is set but empty: unset it, or give a token");
    options.server.token = token;
  }
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string_view option = arguments[i];
    if (i + 1 == arguments.size())
      throw UsageError("unknown option or missing value: '" + std::string(option) + "'");
    const std::string_view value = arguments[++i];
    if (option == "--store") {
      options.api.store = std::string(value);
    } else if (option == "--host") {
      options.server.host = std::string(value);
    } else if (option == "--port") {
      options.server.port = static_cast<std::uint16_t>(count_option(option, value, 0, 65535));
    } else if (option == "--token") {
      if (value.empty()) throw UsageError("--token takes a non-empty TOKEN");
      options.server.token = std::string(value);
    } else if (option == "--max-body") {
      options.server.max_body_bytes = count_option(option, value, 1);
    } else if (option == "--max-header") {
      options.server.max_header_bytes = count_option(option, value, 256);
    } else if (option == "--read-timeout") {
      options.server.read_timeout = std::chrono::seconds(count_option(option, value, 1));
    } else if (option == "--idle-timeout") {
      options.server.idle_timeout = std::chrono::seconds(count_option(option, value, 1));
    } else if (option == "--max-connections") {
      options.server.max_connections = count_option(option, value, 1);
    } else if (option == "--workers") {
      options.server.workers = count_option(option, value, 1, 1024);
    } else if (option == "--queue") {
      options.server.max_queued_jobs = count_option(option, value, 1);
    } else if (option == "--build-workers") {
      options.server.build_workers = count_option(option, value, 1, 64);
    } else if (option == "--build-queue") {
      options.server.max_queued_builds = count_option(option, value, 1);
    } else if (option == "--max-build-mb") {
      options.api.max_build_bytes = count_option(option, value, 1, std::size_t{1} << 30) << 20;
    } else if (option == "--max-model-mb") {
      options.api.load_limits.max_model_bytes = count_option(option, value, 1, std::size_t{1} << 30) << 20;
    } else if (option == "--max-models") {
      options.api.max_models = count_option(option, value, 1);
    } else {
      throw UsageError("unknown option '" + std::string(option) + "'");
    }
  }
  if (options.api.store.empty()) throw UsageError("serve needs --store DIR");
  return options;
}

}  // namespace

int serve_command(std::span<const std::string_view> arguments) {
  ServeOptions options = parse(arguments);
  std::error_code error;
  if (!std::filesystem::is_directory(options.api.store, error))
    throw CheckpointError(options.api.store.string(), "not a directory");
  options.api.registries = Registries(program_models());

  server::Api api(options.api);
  server::Router router;
  api.add_routes(router);
  options.server.extra_metrics = [&api] { return api.metrics(); };
  server::Server server(options.server, std::move(router));
  const bool loopback = server.host().starts_with("127.") || server.host() == "::1";
  if (!loopback && options.server.token.empty()) {
    write_all(stderr, "torchsystem serve: warning: listening on " + server.host() +
                          " without --token: anyone who reaches this address can use every route\n");
  }
  write_all(stdout, "listening on http://" + server.host() + ":" + std::to_string(server.port()) + "\n");
  std::fflush(stdout);
  server.run();
  write_all(stdout, "stopped\n");
  return exit_ok;
}

std::string_view serve_usage() {
  return usage_text;
}

}  // namespace torchsystem::cli
