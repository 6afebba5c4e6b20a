// Which local address a rank's Gloo device binds to: the one of its route to rank 0's machine. Plain
// POSIX networking, apart from LibTorch's distributed headers. Internal.
#pragma once

#include <cstdint>
#include <string>

namespace torchsystem::training_detail {

/// MASTER_ADDR names this machine's loopback: every rank is on this machine.
bool is_loopback(const std::string& address);

/// The local address of this host's route to `host`:`port`, numeric (`10.77.0.2`). A UDP socket's
/// connect() only chooses the route: no packet is sent. Throws std::runtime_error saying why there is none.
std::string route_source(const std::string& host, std::uint16_t port);

/// The first IPv4 address of the network interface `name`, else its first IPv6 one. Throws
/// std::runtime_error when there is no such interface (naming those there are) or it has no address.
std::string interface_address(const std::string& name);

}  // namespace torchsystem::training_detail
