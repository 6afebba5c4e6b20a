// The route's local address and interfaces' addresses (network_address.hpp).
#include "network_address.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "../common/descriptor.hpp"

namespace torchsystem::training_detail {
namespace {

/// A socket address as numeric text.
std::string numeric(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw =
      address->sa_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr);
  if (inet_ntop(address->sa_family, raw, text, sizeof text) == nullptr)
    throw std::runtime_error(std::string("cannot print an address: ") + std::strerror(errno));
  return text;
}

struct AddrinfoDeleter {
  void operator()(addrinfo* list) const { freeaddrinfo(list); }
};
struct IfaddrsDeleter {
  void operator()(ifaddrs* list) const { freeifaddrs(list); }
};

}  // namespace

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.starts_with("127.") || address == "::1";
}

std::string route_source(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (const int code = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); code != 0)
    throw std::runtime_error("cannot resolve " + host + ": " + gai_strerror(code));
  const std::unique_ptr<addrinfo, AddrinfoDeleter> list(found);
  std::string reason = "no address";
  for (const addrinfo* entry = list.get(); entry != nullptr; entry = entry->ai_next) {
    const detail::Descriptor socket_fd(::socket(entry->ai_family, entry->ai_socktype | SOCK_CLOEXEC, 0));
    if (socket_fd.get() < 0 || ::connect(socket_fd.get(), entry->ai_addr, entry->ai_addrlen) != 0) {
      reason = std::strerror(errno);
      continue;
    }
    sockaddr_storage local{};
    socklen_t size = sizeof local;
    if (::getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&local), &size) != 0) {
      reason = std::strerror(errno);
      continue;
    }
    return numeric(reinterpret_cast<const sockaddr*>(&local));
  }
  throw std::runtime_error("no route to " + host + ": " + reason);
}

std::string interface_address(const std::string& name) {
  ifaddrs* found = nullptr;
  if (getifaddrs(&found) != 0)
    throw std::runtime_error(std::string("cannot list the network interfaces: ") + std::strerror(errno));
  const std::unique_ptr<ifaddrs, IfaddrsDeleter> list(found);
  std::vector<std::string> names;
  std::string ipv6;
  bool exists = false;
  for (const ifaddrs* entry = list.get(); entry != nullptr; entry = entry->ifa_next) {
    const std::string interface = entry->ifa_name ? entry->ifa_name : "";
    if (std::find(names.begin(), names.end(), interface) == names.end()) names.push_back(interface);
    if (interface != name) continue;
    exists = true;
    if (entry->ifa_addr == nullptr) continue;
    if (entry->ifa_addr->sa_family == AF_INET) return numeric(entry->ifa_addr);
    if (entry->ifa_addr->sa_family == AF_INET6 && ipv6.empty()) ipv6 = numeric(entry->ifa_addr);
  }
  if (!ipv6.empty()) return ipv6;
  if (exists) throw std::runtime_error("the network interface " + name + " has no IPv4 or IPv6 address");
  std::string known;
  for (const auto& interface : names) known += (known.empty() ? "" : ", ") + interface;
  throw std::runtime_error("no network interface " + name + " (this host has " + known + ")");
}

}  // namespace torchsystem::training_detail
