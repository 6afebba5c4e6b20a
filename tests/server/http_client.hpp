// A small HTTP/1.1 client for the server tests, on plain POSIX sockets with a deadline on every wait, so
// a test can send any bytes (half a request, a byte at a time, an oversized header) and never hangs.
// Responses are parsed by Beast's parser, fed by hand.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace test_http {

struct Response {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  ///< names lowercased
  std::string body;
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Connection {
 public:
  explicit Connection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect failed");
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends all of `bytes`; false when the server has closed the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  /// The next response, or nullopt when the connection closes or `timeout` passes first.
  std::optional<Response> read(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(64 * 1024 * 1024);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!parser.is_done()) {
      if (!pending_.empty()) {
        boost::beast::error_code ec;
        const std::size_t used = parser.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (ec && ec != http::error::need_more) return std::nullopt;
        if (parser.is_done()) break;
        if (used > 0 && !pending_.empty()) continue;
      }
      if (!receive(deadline)) return std::nullopt;
    }
    Response response;
    response.status = parser.get().result_int();
    for (const auto& field : parser.get()) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      response.headers[name] = std::string(field.value());
    }
    response.body = parser.get().body();
    return response;
  }

  /// True when the server closes the connection (or resets it) before `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd waiting{fd_, POLLIN, 0};
      if (::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) continue;
      char scratch[4096];
      const ssize_t got = ::recv(fd_, scratch, sizeof scratch, 0);
      if (got <= 0) return true;
    }
  }

 private:
  bool receive(std::chrono::steady_clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd waiting{fd_, POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) return false;
    char scratch[65536];
    const ssize_t got = ::recv(fd_, scratch, sizeof scratch, 0);
    if (got <= 0) return false;
    pending_.append(scratch, static_cast<std::size_t>(got));
    return true;
  }

  int fd_;
  std::string pending_;
};

/// The bytes of one request, with Host and, for a body, Content-Length.
inline std::string format_request(std::string_view method, std::string_view target,
                                  std::string_view body = {},
                                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers) text += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST") text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return text + "\r\n" + std::string(body);
}

/// An answer the tests got through request(), kept to be checked against the OpenAPI document.
struct Exchange {
  std::string method;
  std::string target;
  Response response;
};
inline std::vector<Exchange>& exchanges() {
  static std::vector<Exchange> all;
  return all;
}
inline std::mutex& exchanges_mutex() {
  static std::mutex mutex;
  return mutex;
}

/// One request on a new connection; throws when no response comes.
inline Response request(std::uint16_t port, std::string_view method, std::string_view target,
                        std::string_view body = {},
                        const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  Connection connection(port);
  connection.send(format_request(method, target, body, headers));
  auto response = connection.read();
  if (!response)
    throw std::runtime_error("no response to " + std::string(method) + " " + std::string(target));
  const std::lock_guard lock(exchanges_mutex());  // clients may run on several threads
  exchanges().push_back({std::string(method), std::string(target), *response});
  return *response;
}

}  // namespace test_http
