// What a training job reports while it runs, in the spirit of Python torchsystem's events and consumers:
// the job raises an event at each step, and an observer (the `torchsystem train` command's renderer, a
// test, a logger of the user's) does with it what it wants. The job itself never prints.
//
//   class Curve : public TrainingObserver {
//     void on(const EpochDone& done) override { losses.push_back(done.record.loss); }
//    public:
//     std::vector<double> losses;
//   };
//   Curve curve;
//   train(config, registries, &curve);
//
// In a data-parallel run only rank 0 raises events; each event then describes the whole job.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "torchsystem/json.hpp"

namespace torchsystem {

/// What one epoch gave. As JSON (the checkpoint's history), a regression epoch has no accuracy keys.
struct EpochRecord {
  std::int64_t epoch = 0;
  double loss = 0;                ///< mean training loss over the epoch's batches
  double accuracy = 0;            ///< training accuracy over the epoch, in [0, 1] (classification)
  double test_loss = 0;           ///< mean loss over the whole test set after the epoch
  double test_accuracy = 0;       ///< accuracy over the whole test set after the epoch (classification)
  double seconds = 0;             ///< the epoch's training time (evaluation and saving excluded)
  double samples_per_second = 0;  ///< training samples over `seconds`
  /// "classification" (class labels, accuracy measured) or "regression" (float targets, no accuracy).
  std::string task = "classification";
  /// The data the epoch trained on (DataProvenance::to_json); null in earlier checkpoints' records.
  Json data;

  bool regression() const noexcept { return task == "regression"; }

  Json to_json() const;
  static EpochRecord from_json(const Json& json);
};

/// The data are loaded and the threads set.
struct JobStarted {
  std::string data;                     ///< the data set's description (DataSource::description)
  std::int64_t threads = 1;             ///< LibTorch's intra-op threads in each process
  int processes = 1;                    ///< the processes of a data-parallel job (1 alone)
  std::string task = "classification";  ///< or "regression", as the criterion decides
  /// A data-parallel job: rank 0's Gloo address (ProcessGroup::address); empty alone.
  std::string address;
};

/// The aggregate is built and fits the task.
struct AggregateReady {
  std::string identity;         ///< `<name>-<hash>` of the model
  std::int64_t parameters = 0;  ///< the model's parameter count
  std::string criterion;        ///< the criterion's name
  std::string optimizer;        ///< the optimizer's name
  Json optimizer_arguments;     ///< the optimizer's recorded arguments
};

/// Another job holds the identity's lock, and this one waits for it (`--wait`).
struct WaitingForLock {
  std::string identity;
  std::string holder;  ///< who holds it, as CheckpointStore::lock_holder says
};

/// The job holds its identity and starts: from a checkpoint (`resumed_from` > 0) or fresh.
struct JobResumed {
  std::int64_t resumed_from = 0;     ///< the epoch the checkpoint held; 0 when starting fresh
  std::filesystem::path checkpoint;  ///< the checkpoint resumed from (when resumed_from > 0)
  std::filesystem::path store;       ///< the store's directory
  /// When the checkpoint's last epoch trained on other data than this run's (their digests differ): what
  /// it trained on, and what this run trains on (DataProvenance::summary). This run's epochs record theirs.
  std::optional<std::string> trained_on;
  std::string trains_on;
};

/// A batch of an epoch is done.
struct BatchDone {
  std::int64_t epoch = 0;
  std::int64_t batch = 0;         ///< batches done in this epoch, from 1
  std::int64_t batches = 0;       ///< the epoch's batches
  std::int64_t samples_done = 0;  ///< the epoch's samples done so far (all ranks')
  std::int64_t samples = 0;       ///< the epoch's samples
  double mean_loss = 0;           ///< mean training loss over the batches done
  double seconds = 0;             ///< time since the epoch started
};

/// An epoch is done and saved.
struct EpochDone {
  EpochRecord record;
  std::filesystem::path checkpoint;  ///< where it was saved
  /// The gradients' all-reduce per optimizer step, in milliseconds, in a data-parallel job.
  std::optional<double> all_reduce_ms;
};

/// The job stopped when asked (Ctrl-C), before finishing its epochs.
struct JobInterrupted {
  /// The epoch that was running (its work is lost; the checkpoint holds the one before); 0 when the job
  /// was stopped while waiting for the identity's lock, before anything was trained.
  std::int64_t epoch = 0;
};

/// Receives a training job's events; each does nothing unless overridden. Called on the job's thread.
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  virtual void on(const JobStarted& /*event*/) {}
  virtual void on(const AggregateReady& /*event*/) {}
  virtual void on(const WaitingForLock& /*event*/) {}
  virtual void on(const JobResumed& /*event*/) {}
  virtual void on(const BatchDone& /*event*/) {}
  virtual void on(const EpochDone& /*event*/) {}
  virtual void on(const JobInterrupted& /*event*/) {}
};

}  // namespace torchsystem
