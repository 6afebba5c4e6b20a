// Data-parallel training across processes, on LibTorch's distributed engine (c10d with Gloo).
//
// A worker learns its place the way `torchrun` tells it, from the environment:
//
//   RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 MASTER_ADDR=10.0.0.1 MASTER_PORT=29500 torchsystem train seed.json
//
//   if (auto options = DistributedOptions::from_environment()) {
//     ProcessGroup group(*options);                  // rendezvous: rank 0 serves a TCPStore, the others join
//     train(config, registries, group, &observer);  // training_job.hpp: each rank trains on its shard
//   }
//
// The group is the job's only channel between processes: collectives (broadcast, all-reduce) run over
// Gloo's TCP transport, and small messages (`publish`/`wait_for`) over the rendezvous store. Every call
// that waits on another rank is bounded by the group's timeout, so a rank that died or hangs makes the
// others fail with a DistributedError naming what they were waiting for, never hang.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchsystem {

/// Where a process sits in a data-parallel job, with torchrun's names.
struct DistributedOptions {
  int rank = 0;                           ///< RANK: this process's index in the job, 0 to world_size - 1
  int world_size = 1;                     ///< WORLD_SIZE: the number of processes
  int local_rank = 0;                     ///< LOCAL_RANK: this process's index on its machine
  std::string master_addr = "127.0.0.1";  ///< MASTER_ADDR: where rank 0 serves the rendezvous store
  std::uint16_t master_port = 29500;      ///< MASTER_PORT
  /// How long any rank waits for the others (rendezvous, every collective) before it fails.
  /// TORCHSYSTEM_DIST_TIMEOUT, in seconds.
  std::chrono::milliseconds timeout = std::chrono::seconds(300);

  /// The options the environment gives; nullopt when WORLD_SIZE is not set (a single process).
  /// A variable that is missing or malformed is an ArgumentError naming it and what was expected.
  static std::optional<DistributedOptions> from_environment();

  /// MASTER_ADDR is this machine's loopback (`localhost`, `127.*`, `::1`): every rank runs here.
  bool on_one_machine() const;

  /// TORCHSYSTEM_DIST_TIMEOUT (seconds, 1 to 86400), else the default timeout above.
  static std::chrono::milliseconds timeout_from_environment();
};

/// A joined process group: a rendezvous store and a Gloo process group over it. Not copyable; every
/// rank must make the same sequence of collective calls.
class ProcessGroup {
 public:
  /// Joins the job: rank 0 serves the store on MASTER_ADDR:MASTER_PORT and every rank waits there until
  /// all `world_size` have arrived. Throws DistributedError when they do not within the timeout.
  explicit ProcessGroup(const DistributedOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const noexcept;
  int size() const noexcept;
  const DistributedOptions& options() const noexcept;
  /// The address this rank's Gloo device is bound to, and why: `10.77.0.2 (the route to 10.77.0.1)`,
  /// `127.0.0.1 (loopback)` when MASTER_ADDR is this machine, or GLOO_SOCKET_IFNAME's interface.
  const std::string& address() const noexcept;

  /// Makes every rank's `tensors` equal to the root's, in place: one broadcast per element type, of all
  /// the tensors of that type flattened together. `what` names them in errors ("the initial state").
  void broadcast(const std::vector<at::Tensor>& tensors, std::string_view what, int root = 0);

  /// Sums each tensor across ranks, in place: one all-reduce per tensor, all in flight at once.
  void all_reduce_sum(const std::vector<at::Tensor>& tensors, std::string_view what);

  /// Sets `key` to `value` in the rendezvous store, for every rank to read.
  void publish(const std::string& key, const std::string& value);

  /// Adds `amount` to the counter `key` in the rendezvous store and returns its new value (0 reads it).
  std::int64_t add(const std::string& key, std::int64_t amount);

  /// The value of `key` once some rank has published it. Polls, so that `*stop` (when given) ends the
  /// wait with nullopt; the wait is not bounded by the timeout, because what it waits for (another job's
  /// lock, for one) may take long. Fails with DistributedError when the store's server (rank 0) is gone.
  std::optional<std::string> wait_for(const std::string& key, std::string_view what,
                                      const std::atomic<bool>* stop = nullptr);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Sums gradients across ranks in buckets of at most `bucket_bytes` (one all-reduce per bucket, not one
/// per parameter), together with the loss and a stop flag, so that every rank steps with the same
/// gradients, reports the same loss and stops at the same batch.
class GradientReducer {
 public:
  /// Buckets the parameters in their order; they must be the same, in the same order, on every rank.
  GradientReducer(ProcessGroup& group, std::vector<at::Tensor> parameters,
                  std::int64_t bucket_bytes = std::int64_t{25} << 20);

  struct Result {
    at::Tensor loss;  ///< the weighted sum of the ranks' losses: the global batch's mean loss
    bool stop;        ///< some rank asked to stop
  };

  /// Replaces each parameter's gradient with the sum over ranks of `weight` times the rank's gradient,
  /// where `weight` is this rank's share of the global batch (its rows over the batch's rows): the
  /// gradient of the global batch's mean loss. An undefined `loss` (an empty shard) counts as 0.
  Result reduce(const at::Tensor& loss, double weight, bool stop, std::string_view what);

  std::size_t buckets() const noexcept { return buckets_.size(); }

  /// The time spent in the all-reduces so far (waiting for the slowest rank included), and their count.
  double exchange_seconds() const noexcept { return exchange_seconds_; }
  std::int64_t exchanges() const noexcept { return exchanges_; }

 private:
  struct Bucket {
    std::vector<std::size_t> parameters;  ///< indices into parameters_
    at::Tensor flat;                      ///< their gradients, end to end, plus the trailer in the last
  };
  ProcessGroup& group_;
  std::vector<at::Tensor> parameters_;
  std::vector<Bucket> buckets_;
  double exchange_seconds_ = 0;
  std::int64_t exchanges_ = 0;
};

}  // namespace torchsystem
