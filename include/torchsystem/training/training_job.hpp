// The training job: one JSON configuration builds a model, a loss and an optimizer by name, trains them
// on a data set (datasets.hpp), saves a checkpoint under the model's identity after every epoch and, run
// again, resumes from the last saved epoch.
//
//   {"model": {"name": "MLP", "arguments": {...}}, "criterion": {"name": "CrossEntropyLoss"},
//    "optimizer": {"name": "Adam", "arguments": {"lr": 0.001}},
//    "epochs": 3, "batch_size": 64, "seed": 42, "store": "data/weights",
//    "data": {"name": "FashionMNIST"}, "plugins": ["seed"]}
//
// `epochs` is the number of epochs each run trains: the first run trains epochs 1 to 3, the next run of
// the same configuration resumes and trains 4 to 6. A changed model hyperparameter is another identity,
// so it starts fresh; a checkpoint of the same model saved with another loss or optimizer is refused
// (CheckpointError), never overwritten. Each epoch's shuffling and dropout are seeded from `seed` and
// the epoch number, so a resumed run continues exactly as an uninterrupted one would. A job holds its
// identity's lock in the store from before it loads until it ends: two jobs never write one identity.
//
// Data parallel (distributed.hpp): given a ProcessGroup, each process trains on its shard of every
// global batch of `batch_size` rows, with gradients summed across processes before each step, so N
// processes follow the curve one process would, up to rounding. Rank 0 alone holds the lock, saves and
// reports; every rank resumes from the same checkpoint.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "torchsystem/json.hpp"
#include "torchsystem/torch/registries.hpp"
#include "torchsystem/training/datasets.hpp"
#include "torchsystem/training/events.hpp"

namespace torchsystem {

struct TrainingConfig {
  Json model;      ///< an entity configuration {"name", "arguments"}: a plugin's model or a catalog module
  Json criterion;  ///< an entity configuration, built through the catalog's losses
  Json optimizer;  ///< an entity configuration, built through the catalog's optimizers
  std::int64_t epochs = 1;
  std::int64_t batch_size = 64;
  std::uint64_t seed = 0;
  std::filesystem::path store;
  DataOptions data;  ///< the optional "data" object (datasets.hpp); the synthetic task by default
  /// LibTorch's intra-op threads (at::set_num_threads); 0 keeps the default, the count measured fastest
  /// for the job's shapes on the project's machines (docs/benchmarks.md). TORCHSYSTEM_THREADS overrides.
  std::int64_t threads = 0;
  /// Plugins the model needs (torchsystem/torch/plugin.hpp): names or library paths, as given. The
  /// `torchsystem train` command loads them before it builds the model; train() itself does not.
  std::vector<std::string> plugins;
  /// The directory relative paths in the configuration are taken from (its file's directory).
  std::filesystem::path base;
  /// When another job holds the identity's lock in the store: false fails at once (CheckpointError
  /// naming the identity and the holder), true waits for it and then resumes from what it saved. Not a
  /// key of the JSON configuration: `torchsystem train --wait` sets it.
  bool wait_for_lock = false;

  /// Reads and checks a configuration; every fault is an ArgumentError with its path (`config.epochs`).
  /// A relative `store` is taken relative to `base` (the configuration file's directory).
  static TrainingConfig from_json(const Json& config, const std::filesystem::path& base = {});
};

struct TrainingReport {
  std::string identity;              ///< the model's `<name>-<hash>`
  std::int64_t resumed_from = 0;     ///< the epoch the checkpoint held (0: started fresh)
  bool interrupted = false;          ///< stopped before finishing its epochs (the epoch in progress is lost)
  std::vector<EpochRecord> history;  ///< every epoch so far, earlier runs' included
  std::filesystem::path checkpoint;  ///< the archive holding the last saved epoch
};

/// Runs the job. The model is built through `registries.models_for(name)` (a plugin's model or a catalog
/// module), the loss and optimizer from the catalog. Each step is reported to `observer` (events.hpp):
/// the job itself prints nothing. Setting `*stop` ends the run at the next batch, without saving that
/// epoch (or the wait for the identity's lock).
TrainingReport train(const TrainingConfig& config, const Registries& registries,
                     TrainingObserver* observer = nullptr, const std::atomic<bool>* stop = nullptr);

class ProcessGroup;

/// Runs the job as one rank of `group`; every rank calls it with the same configuration, and only rank
/// 0 reports to its observer. `*stop` on any rank stops every rank at the same batch. A rank that dies
/// or stops answering makes the others throw DistributedError within the group's timeout; the last saved
/// epoch stays intact.
TrainingReport train(const TrainingConfig& config, const Registries& registries, ProcessGroup& group,
                     TrainingObserver* observer = nullptr, const std::atomic<bool>* stop = nullptr);

}  // namespace torchsystem
