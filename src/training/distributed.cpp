// The process group over c10d: the only unit that includes LibTorch's distributed and Gloo headers.
#include <utility>  // before c10d's headers, which use std::move without it

#include "torchsystem/training/distributed.hpp"

#include <ATen/Functions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <limits>
#include <map>
#include <thread>

#include "network_address.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/detail/message.hpp"

namespace torchsystem {

namespace {

using detail::message_of;

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string required(const char* name, const char* expected) {
  auto value = environment(name);
  if (!value || value->empty())
    throw ArgumentError(std::string("environment ") + name, std::string("missing; expected ") + expected);
  return *value;
}

/// The integer in a variable, from `low` to `high`; anything else names the variable.
std::int64_t integer(const char* name, const std::string& text, std::int64_t low, std::int64_t high) {
  std::int64_t value = 0;
  bool valid = !text.empty() && text.size() <= 18;
  for (const char digit : text) valid = valid && digit >= '0' && digit <= '9';
  if (valid) value = std::stoll(text);
  if (!valid || value < low || value > high) {
    throw ArgumentError(std::string("environment ") + name, "expected an int from " + std::to_string(low) +
                                                                " to " + std::to_string(high) + ", got " +
                                                                dumps(Json(text)));
  }
  return value;
}

std::string seconds_text(std::chrono::milliseconds timeout) {
  const auto seconds = std::chrono::duration<double>(timeout).count();
  std::string text = std::to_string(seconds);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text + " s";
}

}  // namespace

std::optional<DistributedOptions> DistributedOptions::from_environment() {
  const auto world = environment("WORLD_SIZE");
  if (!world) return std::nullopt;
  DistributedOptions options;
  options.world_size = static_cast<int>(integer("WORLD_SIZE", *world, 1, 65536));
  options.rank = static_cast<int>(
      integer("RANK", required("RANK", "this process's rank, from 0"), 0, options.world_size - 1));
  const auto local = environment("LOCAL_RANK");
  options.local_rank =
      local ? static_cast<int>(integer("LOCAL_RANK", *local, 0, options.world_size - 1)) : options.rank;
  options.master_addr = required("MASTER_ADDR", "the address of rank 0's machine");
  options.master_port = static_cast<std::uint16_t>(
      integer("MASTER_PORT", required("MASTER_PORT", "the port rank 0 serves the rendezvous on"), 1, 65535));
  options.timeout = timeout_from_environment();
  return options;
}

bool DistributedOptions::on_one_machine() const {
  return training_detail::is_loopback(master_addr);
}

std::chrono::milliseconds DistributedOptions::timeout_from_environment() {
  const auto timeout = environment("TORCHSYSTEM_DIST_TIMEOUT");
  if (!timeout) return DistributedOptions{}.timeout;
  return std::chrono::seconds(integer("TORCHSYSTEM_DIST_TIMEOUT", *timeout, 1, 86400));
}

struct ProcessGroup::State {
  DistributedOptions options;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  std::string address;

  /// The other ranks and their addresses, as each published it when it joined: `rank 1 at 10.77.0.2`.
  std::string peers;

  [[noreturn]] void fail(std::string_view what, const std::exception& error) const {
    // Gloo's error does not say which peer went; with one peer that is it, with more, one of them.
    const std::string lost =
        options.world_size == 2 ? "the other rank, " + peers + ", died" : "another rank died";
    throw DistributedError(options.rank, options.world_size,
                           "the process group failed while exchanging " + std::string(what) + ": " +
                               message_of(error) + " (" + lost + ", or did not answer within " +
                               seconds_text(options.timeout) +
                               (options.world_size == 2 ? "" : "; the peers: " + peers) + ")");
  }
};

namespace {

/// The device a rank's Gloo pairs bind to, its address, and the address as the rank's first line says it.
struct ChosenDevice {
  std::shared_ptr<gloo::transport::Device> device;
  std::string ip;
  std::string address;
};

ChosenDevice gloo_device(const DistributedOptions& options) {
  const auto fail = [&](const std::string& reason) -> DistributedError {
    return DistributedError(options.rank, options.world_size, reason);
  };
  if (const auto interface = environment("GLOO_SOCKET_IFNAME"); interface && !interface->empty()) {
    std::string address;
    try {
      address = training_detail::interface_address(*interface);
    } catch (const std::runtime_error& error) {
      throw fail("GLOO_SOCKET_IFNAME=" + *interface + ": " + error.what());
    }
    return {c10d::ProcessGroupGloo::createDeviceForInterface(*interface), address,
            address + " (" + *interface + ", from GLOO_SOCKET_IFNAME)"};
  }
  // On one machine the loopback interface is the one every rank reaches.
  if (options.on_one_machine())
    return {c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"), "127.0.0.1",
            "127.0.0.1 (loopback)"};
  // Across machines, the address of this host's route to rank 0's: the peers reach it as rank 0's
  // machine does. The address the host's name resolves to may be a loopback one (127.0.1.1 is Debian's
  // default in /etc/hosts), which would be advertised to peers that cannot reach it.
  std::string address;
  try {
    address = training_detail::route_source(options.master_addr, options.master_port);
  } catch (const std::runtime_error& error) {
    throw fail("cannot choose the address to train on (MASTER_ADDR=" + options.master_addr +
               "): " + error.what() + "; set GLOO_SOCKET_IFNAME to the interface to use");
  }
  return {c10d::ProcessGroupGloo::createDeviceForHostname(address), address,
          address + " (the route to " + options.master_addr + ")"};
}

}  // namespace

ProcessGroup::ProcessGroup(const DistributedOptions& options) : state_(std::make_unique<State>()) {
  state_->options = options;
  const auto fail_to_join = [&](const std::exception& error) {
    throw DistributedError(options.rank, options.world_size,
                           "cannot join the process group of " + std::to_string(options.world_size) + " at " +
                               options.master_addr + ":" + std::to_string(options.master_port) + " within " +
                               seconds_text(options.timeout) + ": " + message_of(error));
  };
  try {
    c10d::TCPStoreOptions store;
    store.port = options.master_port;
    store.isServer = options.rank == 0;
    store.numWorkers = static_cast<std::size_t>(options.world_size);
    store.waitWorkers = true;
    store.timeout = options.timeout;
    state_->store = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store);
    auto gloo = c10d::ProcessGroupGloo::Options::create(options.timeout);
    ChosenDevice chosen = gloo_device(options);
    const std::string ip = chosen.ip;
    state_->address = std::move(chosen.address);
    gloo->devices.push_back(std::move(chosen.device));
    gloo->threads = 1;  // collectives run one at a time per process; more threads only compete for cores
    state_->group =
        c10::make_intrusive<c10d::ProcessGroupGloo>(state_->store, options.rank, options.world_size, gloo);
    // Each rank's address, for the message that names a peer lost later (when the store may be gone).
    const std::string prefix = "torchsystem/address/";
    state_->store->set(prefix + std::to_string(options.rank),
                       std::vector<std::uint8_t>(ip.begin(), ip.end()));
    for (int peer = 0; peer < options.world_size; ++peer) {
      if (peer == options.rank) continue;
      const auto bytes = state_->store->get(prefix + std::to_string(peer));
      state_->peers += (state_->peers.empty() ? "rank " : ", rank ") + std::to_string(peer) + " at " +
                       std::string(bytes.begin(), bytes.end());
    }
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& error) {
    fail_to_join(error);
  }
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const noexcept {
  return state_->options.rank;
}

int ProcessGroup::size() const noexcept {
  return state_->options.world_size;
}

const DistributedOptions& ProcessGroup::options() const noexcept {
  return state_->options;
}

const std::string& ProcessGroup::address() const noexcept {
  return state_->address;
}

void ProcessGroup::broadcast(const std::vector<at::Tensor>& tensors, std::string_view what, int root) {
  // Gloo broadcasts one tensor per call: the tensors of each element type go end to end in one.
  std::map<at::ScalarType, std::vector<at::Tensor>> by_type;
  for (const auto& tensor : tensors) by_type[tensor.scalar_type()].push_back(tensor);
  try {
    for (auto& [type, group] : by_type) {
      std::vector<at::Tensor> flat_views;
      for (const auto& tensor : group) flat_views.push_back(tensor.detach().reshape({-1}));
      std::vector<at::Tensor> flat{at::cat(flat_views)};
      c10d::BroadcastOptions options;
      options.rootRank = root;
      state_->group->broadcast(flat, options)->wait();
      std::int64_t offset = 0;
      for (auto& tensor : group) {
        const at::NoGradGuard no_grad;
        tensor.detach().copy_(flat[0].narrow(0, offset, tensor.numel()).view(tensor.sizes()));
        offset += tensor.numel();
      }
    }
  } catch (const std::exception& error) {
    state_->fail(what, error);
  }
}

void ProcessGroup::all_reduce_sum(const std::vector<at::Tensor>& tensors, std::string_view what) {
  try {
    std::vector<c10::intrusive_ptr<c10d::Work>> pending;
    std::vector<std::vector<at::Tensor>> arguments;
    arguments.reserve(tensors.size());
    for (const auto& tensor : tensors) {
      arguments.push_back({tensor});
      pending.push_back(state_->group->allreduce(arguments.back()));
    }
    for (auto& work : pending) work->wait();
  } catch (const std::exception& error) {
    state_->fail(what, error);
  }
}

void ProcessGroup::publish(const std::string& key, const std::string& value) {
  try {
    state_->store->set(key, std::vector<std::uint8_t>(value.begin(), value.end()));
  } catch (const std::exception& error) {
    state_->fail("\"" + key + "\" through the rendezvous store", error);
  }
}

std::int64_t ProcessGroup::add(const std::string& key, std::int64_t amount) {
  try {
    return state_->store->add(key, amount);
  } catch (const std::exception& error) {
    state_->fail("\"" + key + "\" through the rendezvous store", error);
  }
}

std::optional<std::string> ProcessGroup::wait_for(const std::string& key, std::string_view what,
                                                  const std::atomic<bool>* stop) {
  try {
    while (!state_->store->check({key})) {
      if (stop && stop->load(std::memory_order_relaxed)) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::vector<std::uint8_t> value = state_->store->get(key);
    return std::string(value.begin(), value.end());
  } catch (const std::exception& error) {
    throw DistributedError(rank(), size(),
                           "lost the rendezvous store while waiting for " + std::string(what) + ": " +
                               message_of(error) + " (rank 0 serves it: did it end?)");
  }
}

GradientReducer::GradientReducer(ProcessGroup& group, std::vector<at::Tensor> parameters,
                                 std::int64_t bucket_bytes)
    : group_(group), parameters_(std::move(parameters)) {
  std::map<at::ScalarType, std::vector<std::size_t>> by_type;
  for (std::size_t index = 0; index < parameters_.size(); ++index)
    by_type[parameters_[index].scalar_type()].push_back(index);
  for (const auto& [type, indices] : by_type) {
    buckets_.push_back({});  // a bucket holds one element type
    std::int64_t bytes = 0;
    for (const std::size_t index : indices) {
      const std::int64_t size = parameters_[index].numel() * parameters_[index].element_size();
      if (!buckets_.back().parameters.empty() && bytes + size > bucket_bytes) {
        buckets_.push_back({});
        bytes = 0;
      }
      buckets_.back().parameters.push_back(index);
      bytes += size;
    }
  }
  if (buckets_.empty()) buckets_.push_back({});  // no parameters: the trailer alone
  for (std::size_t bucket = 0; bucket < buckets_.size(); ++bucket) {
    std::int64_t elements = bucket + 1 == buckets_.size() ? 2 : 0;  // the trailer: loss, stop
    for (const std::size_t index : buckets_[bucket].parameters) elements += parameters_[index].numel();
    const auto type = buckets_[bucket].parameters.empty()
                          ? at::kFloat
                          : parameters_[buckets_[bucket].parameters.front()].scalar_type();
    buckets_[bucket].flat = at::zeros({elements}, at::TensorOptions().dtype(type));
  }
}

GradientReducer::Result GradientReducer::reduce(const at::Tensor& loss, double weight, bool stop,
                                                std::string_view what) {
  const at::NoGradGuard no_grad;
  std::vector<at::Tensor> flats;
  for (auto& bucket : buckets_) {
    std::int64_t offset = 0;
    for (const std::size_t index : bucket.parameters) {
      const at::Tensor& parameter = parameters_[index];
      at::Tensor slot = bucket.flat.narrow(0, offset, parameter.numel());
      if (parameter.grad().defined()) {
        at::mul_out(slot, parameter.grad().reshape({-1}), weight);
      } else {
        slot.zero_();
      }
      offset += parameter.numel();
    }
    flats.push_back(bucket.flat);
  }
  at::Tensor& last = buckets_.back().flat;
  const std::int64_t trailer = last.numel() - 2;
  last[trailer] = loss.defined() ? loss.detach().item<double>() * weight : 0.0;
  last[trailer + 1] = stop ? 1.0 : 0.0;
  const auto started = std::chrono::steady_clock::now();
  group_.all_reduce_sum(flats, what);
  exchange_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ++exchanges_;

  for (auto& bucket : buckets_) {
    std::int64_t offset = 0;
    for (const std::size_t index : bucket.parameters) {
      at::Tensor parameter = parameters_[index];
      const at::Tensor summed = bucket.flat.narrow(0, offset, parameter.numel()).view(parameter.sizes());
      if (parameter.grad().defined()) {
        parameter.mutable_grad().copy_(summed);
      } else {
        parameter.mutable_grad() = summed.clone();
      }
      offset += parameter.numel();
    }
  }
  const at::Tensor summed_loss = last.narrow(0, trailer, 1).reshape({}).clone();
  return {loss.defined() ? summed_loss.to(loss.scalar_type()) : summed_loss,
          last[trailer + 1].item<double>() > 0};
}

}  // namespace torchsystem
