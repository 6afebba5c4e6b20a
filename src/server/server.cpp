// The HTTP/1.1 server on Boost.Beast (see server.hpp).
//
// One I/O thread runs every connection as a C++20 coroutine; handlers that block (files, models) run on
// a worker pool behind a bounded queue. With one I/O thread the connection table and the metrics need
// no strand, and on the project's two cores one thread answers tens of thousands of requests a second
// (docs/serving.md), so more would only compete with the workers.
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <csignal>
#include <list>
#include <map>
#include <system_error>

#include "assets.hpp"
#include "framing.hpp"
#include "metrics.hpp"
#include "server.hpp"

namespace torchsystem::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

/// An open connection as the table of connections sees it.
struct Connection {
  beast::tcp_stream* stream = nullptr;  // set once its session runs
  bool idle = false;                    // waiting for the first byte of its next request
  Clock::time_point idle_since;
};

/// Answers over the connection cap when no idle connection can make room. Written without waiting:
/// a client that does not read it loses only its own answer.
const std::string& over_capacity_answer() {
  static const std::string answer = [] {
    const std::string body = R"({"error": "too many connections", "code": "too_many_connections"})";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
           "Connection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return answer;
}

/// The page's scripts and styles come from the server itself; the curves' colours are inline styles.
constexpr std::string_view content_security_policy =
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

/// The largest body an Execution::io route handles on the I/O thread; larger ones go to the workers.
constexpr std::size_t max_io_body = std::size_t{64} * 1024;

bool same_token(std::string_view given, std::string_view expected) {
  if (expected.empty()) return false;
  // Constant time in the token's content, so timing does not reveal how much of a guess was right.
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i)
    difference |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
  return difference == 0;
}

std::string_view view(beast::string_view text) {
  return {text.data(), text.size()};
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Router router;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::signal_set signals{io};
  asio::thread_pool pool;
  asio::thread_pool build_pool;
  Metrics metrics;
  std::list<Connection> connections;  // I/O thread only
  std::atomic<std::size_t> queued{0};
  std::atomic<std::size_t> queued_builds{0};
  std::map<std::string, std::size_t> pending_builds;  // I/O thread only: requests by what they build
  bool stopping = false;                              // I/O thread only
  std::string host;
  std::uint16_t port = 0;

  Impl(ServerOptions given, Router given_router)
      : options(std::move(given)),
        router(std::move(given_router)),
        pool(std::max<std::size_t>(1, options.workers)),
        build_pool(std::max<std::size_t>(1, options.build_workers)) {
    bind();
    add_own_routes();
  }

  void bind() {
    tcp::resolver resolver(io);
    const auto results = resolver.resolve(options.host, std::to_string(options.port),
                                          tcp::resolver::numeric_service | tcp::resolver::passive);
    const tcp::endpoint endpoint = results.begin()->endpoint();
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    host = acceptor.local_endpoint().address().to_string();
    port = acceptor.local_endpoint().port();
  }

  // ---- the server's own routes ----------------------------------------------------------------------

  void add_own_routes() {
    router.add({"GET", "/v2/health/live", Execution::io, Access::open,
                [](const Request&) { return json_response(R"({"live": true})"); }});
    router.add({"GET", "/v2/health/ready", Execution::io, Access::open, [this](const Request&) {
                  return stopping ? json_error(503, "stopping", "the server is shutting down")
                                  : json_response(R"({"ready": true})");
                }});
    router.add({"GET", "/v2", Execution::io, Access::token, [](const Request&) {
                  return json_response(R"({"name": "torchsystem", "version": "0.1.0", "extensions": []})");
                }});
    router.add({"GET", "/metrics", Execution::io, Access::token, [this](const Request&) {
                  Response response;
                  response.content_type = "text/plain; version=0.0.4";
                  response.body = metrics.render(connections.size(), queued.load());
                  if (options.extra_metrics) response.body += options.extra_metrics();
                  return response;
                }});
    for (const Asset& asset : web_assets()) {
      // The page's files hold no data, so a browser can load them before it is given the token.
      router.add({"GET", std::string(asset.path), Execution::io, Access::open, [&asset](const Request&) {
                    Response response;
                    response.content_type = std::string(asset.content_type);
                    response.body = std::string(asset.body);
                    // The page loads nothing from elsewhere, and the browser is told to hold it to that.
                    if (asset.content_type.starts_with("text/html"))
                      response.headers.emplace_back("Content-Security-Policy", content_security_policy);
                    return response;
                  }});
    }
  }

  // ---- connections ----------------------------------------------------------------------------------

  asio::awaitable<void> accept_loop() {
    while (!stopping) {
      beast::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (stopping || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // Out of descriptors, say: pause rather than spin; the deadlines free some soon.
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if (connections.size() >= options.max_connections && !evict_idle()) {
        refuse_over_capacity(socket);
        continue;
      }
      connections.push_back({});
      asio::co_spawn(io, session(std::move(socket), std::prev(connections.end())), asio::detached);
    }
  }

  /// Closes the connection idle the longest, if any, so a new client is not starved by idle ones.
  bool evict_idle() {
    Connection* oldest = nullptr;
    for (Connection& connection : connections) {
      if (connection.idle && connection.stream && (!oldest || connection.idle_since < oldest->idle_since))
        oldest = &connection;
    }
    if (!oldest) return false;
    oldest->idle = false;  // once: its session ends when the cancelled read returns
    oldest->stream->cancel();
    return true;
  }

  static void refuse_over_capacity(tcp::socket& socket) {
    beast::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(over_capacity_answer()), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  asio::awaitable<void> session(tcp::socket socket, std::list<Connection>::iterator self) {
    beast::tcp_stream stream(std::move(socket));
    self->stream = &stream;
    try {
      co_await serve_connection(stream, *self);
    } catch (const std::exception&) {
      // Out of memory, say: this connection ends; the others and the server go on.
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    connections.erase(self);
  }

  asio::awaitable<void> serve_connection(beast::tcp_stream& stream, Connection& connection) {
    beast::flat_buffer buffer;
    bool keep_alive = true;
    while (keep_alive && !stopping) {
      if (buffer.size() == 0) {
        // Idle until the next request's first byte, under the idle deadline; evictable meanwhile.
        connection.idle = true;
        connection.idle_since = Clock::now();
        stream.expires_after(options.idle_timeout);
        beast::error_code ec;
        const std::size_t received = co_await stream.async_read_some(
            buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
        connection.idle = false;
        if (ec) co_return;
        buffer.commit(received);
      }
      keep_alive = co_await serve_request(stream, buffer);
    }
  }

  // ---- one request ----------------------------------------------------------------------------------

  /// Reads, answers and writes one request; returns whether the connection may serve another.
  asio::awaitable<bool> serve_request(beast::tcp_stream& stream, beast::flat_buffer& buffer) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    // One deadline for the whole request, header and body: a client sending a byte at a time gets no more.
    stream.expires_after(options.read_timeout);
    beast::error_code ec;
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return co_await refuse_read(stream, ec, parser.is_header_done() ? parser.get().version() : 11);

    const auto started = Clock::now();
    const auto& header = parser.get();
    // Framing first (RFC 9112 section 6.3): with a length it cannot trust, the server would read the body
    // otherwise than the client meant, and answer the rest as another request. 400, and the connection
    // closes, its framing lost.
    const auto target_form = origin_form(view(header.target()));
    const auto fault = target_form ? framing_fault(header)
                                   : std::optional<std::string>("the request target must be a path (/...)");
    if (fault) {
      const Response refused = json_error(400, "bad_request", "malformed HTTP request: " + *fault);
      record(Match{}, refused.status, started);
      co_await write(stream, refused, header.version(), false);
      co_await drain(stream);
      co_return false;
    }
    const std::string_view target = *target_form;
    const std::size_t question = target.find('?');
    Request request;
    request.method = std::string(view(header.method_string()));
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));

    Match match = router.match(request.method, request.path);
    std::optional<Response> early = check(match, header);
    if (early) {
      const bool body_pending = !parser.is_done();
      co_await write(stream, *early, header.version(), header.keep_alive() && !body_pending && !stopping);
      record(match, early->status, started);
      if (body_pending) co_await drain(stream);
      co_return header.keep_alive() && !body_pending;
    }
    if (!parser.is_done()) {
      if (lowercase(view(header[http::field::expect])) == "100-continue") {
        http::response<http::empty_body> proceed{http::status::continue_, header.version()};
        co_await http::async_write(stream, proceed, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return false;
      }
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return co_await refuse_read(stream, ec, header.version());
    }
    const unsigned version = parser.get().version();
    const bool keep_alive = parser.get().keep_alive();
    request.if_none_match = std::string(view(parser.get()[http::field::if_none_match]));
    request.body = std::move(parser.get().body());
    request.params = std::move(match.params);

    Response response = co_await dispatch(*match.route, request);
    record(match, response.status, started);
    co_return co_await write(stream, std::move(response), version, keep_alive && !stopping) && keep_alive &&
        !stopping;
  }

  /// The answer a request gets before its body is read: a bad path, no route, no token.
  std::optional<Response> check(const Match& match,
                                const http::request_parser<http::string_body>::value_type& header) {
    if (match.bad_encoding) return json_error(400, "bad_request", "malformed percent escape in the path");
    if (!match.route && match.allowed_methods.empty()) return json_error(404, "not_found", "no such route");
    if (!match.route) {
      Response response = json_error(405, "method_not_allowed", "this route does not take that method");
      std::string allowed;
      for (const auto& method : match.allowed_methods) allowed += (allowed.empty() ? "" : ", ") + method;
      response.headers.emplace_back("Allow", allowed);
      return response;
    }
    if (match.route->access == Access::token && !options.token.empty()) {
      const std::string_view authorization = view(header[http::field::authorization]);
      const bool bearer = authorization.size() > 7 && lowercase(authorization.substr(0, 7)) == "bearer ";
      if (!bearer || !same_token(authorization.substr(7), options.token)) {
        Response response = json_error(401, "unauthorized", "this route needs Authorization: Bearer <token>");
        response.headers.emplace_back("WWW-Authenticate", "Bearer");
        return response;
      }
    }
    return std::nullopt;
  }

  /// Answers a request that could not be read whole, when the client can still hear it; never keeps
  /// the connection, whose framing is lost. A client past its deadline hears nothing: tcp_stream has
  /// closed the socket.
  asio::awaitable<bool> refuse_read(beast::tcp_stream& stream, beast::error_code ec, unsigned version) {
    std::optional<Response> answer;
    if (ec == http::error::body_limit) {
      answer =
          json_error(413, "payload_too_large",
                     "the body is over the limit of " + std::to_string(options.max_body_bytes) + " bytes");
    } else if (ec == http::error::header_limit) {
      answer = json_error(
          431, "header_too_large",
          "the header is over the limit of " + std::to_string(options.max_header_bytes) + " bytes");
    } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      answer = json_error(400, "bad_request", "malformed HTTP request: " + ec.message());
    }
    if (!answer) co_return false;  // the client left: nobody to answer
    record(Match{}, answer->status, Clock::now());
    co_await write(stream, *answer, version, false);
    co_await drain(stream);
    co_return false;
  }

  /// After an answer sent before the body was read: reads and drops what the client still sends, for a
  /// bounded time and size, so closing does not reset the connection before the client reads the answer.
  asio::awaitable<void> drain(beast::tcp_stream& stream) {
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(std::chrono::seconds(1));
    std::array<char, 16384> scratch;
    std::size_t dropped = 0;
    while (dropped < 4 * options.max_body_bytes + (1 << 20)) {
      dropped += co_await stream.async_read_some(asio::buffer(scratch),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
  }

  asio::awaitable<Response> dispatch(const Route& route, const Request& request) {
    // A large body is work even for a quick route (16 MiB of JSON to read): the workers take it, so the
    // I/O thread stays free for everyone else.
    if (route.execution == Execution::io && request.body.size() <= max_io_body)
      co_return call(route, request);
    const std::string key = route.build_key ? route.build_key(request) : std::string();
    const bool builds = route.execution == Execution::build || !key.empty();
    // A request for what another has begun to build waits behind it without starting a build of its own.
    const bool starts_build = builds && (key.empty() || !pending_builds.contains(key));
    std::atomic<std::size_t>& count = starts_build ? queued_builds : queued;
    if (count.load() >= (starts_build ? options.max_queued_builds : options.max_queued_jobs)) {
      Response busy = json_error(
          503, "overloaded",
          starts_build ? "the build queue is full; retry shortly" : "the work queue is full; retry shortly");
      busy.headers.emplace_back("Retry-After", "1");
      co_return busy;
    }
    ++count;
    if (!key.empty()) ++pending_builds[key];
    struct Release {
      std::atomic<std::size_t>& count;
      std::map<std::string, std::size_t>& pending;
      const std::string& key;
      ~Release() {  // on the I/O thread, where the coroutine resumes
        --count;
        if (!key.empty() && --pending[key] == 0) pending.erase(key);
      }
    } release{count, pending_builds, key};
    co_return co_await asio::co_spawn(
        builds ? build_pool : pool,
        [&route, &request]() -> asio::awaitable<Response> { co_return call(route, request); },
        asio::use_awaitable);
  }

  static Response call(const Route& route, const Request& request) {
    try {
      return route.handler(request);
    } catch (const std::bad_alloc&) {
      return json_error(507, "out_of_memory", "the server ran out of memory for this request");
    } catch (const std::exception& e) {
      return json_error(500, "internal", e.what());
    }
  }

  void record(const Match& match, unsigned status, Clock::time_point started) {
    const auto latency = Clock::now() - started;
    if (match.route) {
      metrics.record(match.route->pattern, match.route->method, status, latency);
    } else {
      metrics.record("unmatched", "", status, latency);
    }
  }

  /// Writes `response`; returns false when the client could not take it.
  asio::awaitable<bool> write(beast::tcp_stream& stream, Response response, unsigned version,
                              bool keep_alive) {
    stream.expires_after(options.write_timeout);
    beast::error_code ec;
    if (!response.file.empty()) {
      http::response<http::file_body> message{static_cast<http::status>(response.status), version};
      message.body().open(response.file.c_str(), beast::file_mode::scan, ec);
      if (!ec) {
        fill_header(message, response, keep_alive);
        message.prepare_payload();
        co_await http::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
        co_return !ec;
      }
      // Gone between the handler's look and now (a concurrent save renames over it): say so.
      co_return co_await write(stream, json_error(404, "not_found", "the file is gone"), version, keep_alive);
    }
    http::response<http::string_body> message{static_cast<http::status>(response.status), version};
    fill_header(message, response, keep_alive);
    message.body() = std::move(response.body);
    message.prepare_payload();
    co_await http::async_write(stream, message, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  template <class Message>
  static void fill_header(Message& message, const Response& response, bool keep_alive) {
    message.set(http::field::server, "torchsystem");
    message.set("X-Content-Type-Options", "nosniff");
    message.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) message.set(name, value);
    message.keep_alive(keep_alive);
  }

  // ---- stopping -------------------------------------------------------------------------------------

  void shutdown() {
    if (stopping) return;
    stopping = true;
    beast::error_code ec;
    acceptor.close(ec);
    signals.cancel(ec);
    for (Connection& connection : connections) {
      if (connection.idle && connection.stream) connection.stream->cancel();
    }
  }
};

Server::Server(ServerOptions options, Router router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}

Server::~Server() = default;

const std::string& Server::host() const noexcept {
  return impl_->host;
}
std::uint16_t Server::port() const noexcept {
  return impl_->port;
}
const std::vector<Route>& Server::routes() const noexcept {
  return impl_->router.routes();
}

void Server::run() {
  Impl& impl = *impl_;
  if (impl.options.handle_signals) {
    impl.signals.add(SIGINT);
    impl.signals.add(SIGTERM);
    impl.signals.async_wait([&impl](const boost::system::error_code& ec, int) {
      if (!ec) impl.shutdown();
    });
  }
  asio::co_spawn(impl.io, impl.accept_loop(), asio::detached);
  impl.io.run();
  impl.pool.join();
  impl.build_pool.join();
}

void Server::stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->shutdown(); });
}

}  // namespace torchsystem::server
