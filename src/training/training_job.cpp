#include "torchsystem/training/training_job.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>
#include <utility>

#include "huge_pages.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/entity.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/aggregate.hpp"
#include "torchsystem/torch/detail/message.hpp"
#include "torchsystem/torch/module.hpp"
#include "torchsystem/training/distributed.hpp"
#include "torchsystem/value_traits.hpp"
#include "training_support.hpp"

namespace torchsystem {

namespace {

constexpr std::string_view config_keys[] = {"model", "criterion", "optimizer", "epochs",  "batch_size",
                                            "seed",  "store",     "data",      "threads", "plugins"};

std::string known_keys() {
  std::string text;
  for (const auto key : config_keys) text += (text.empty() ? "" : ", ") + std::string(key);
  return text;
}

const Json& require(const Json& config, const char* key) {
  const auto found = config.find(key);
  if (found == config.end()) throw ArgumentError(std::string("config.") + key, "missing");
  return *found;
}

const Json& entity_config(const Json& config, const char* key) {
  const Json& value = require(config, key);
  if (!value.is_object()) {
    throw ArgumentError(
        std::string("config.") + key,
        "expected an entity {\"name\": ..., \"arguments\": {...}}, got " + describe_json(value));
  }
  return value;
}

/// A seed for one epoch's shuffling and dropout: distinct epochs of one run, and runs with distinct
/// seeds, draw different streams.
std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) {
  return seed ^ (static_cast<std::uint64_t>(epoch) * 0x9E3779B97F4A7C15ULL);
}

/// The job's view of the other processes of a data-parallel run: none for a single process.
struct Peers {
  ProcessGroup* group = nullptr;
  std::unique_ptr<GradientReducer> reducer;

  int rank() const { return group ? group->rank() : 0; }
  int size() const { return group ? group->size() : 1; }

  /// This rank's rows of [from, to): shares that differ by one row at most, in rank order, so the
  /// ranks' shards of a global batch are its rows end to end.
  std::pair<std::int64_t, std::int64_t> shard(std::int64_t from, std::int64_t to) const {
    const std::int64_t rows = to - from;
    return {from + rows * rank() / size(), from + rows * (rank() + 1) / size()};
  }
};

/// Sums over some of the test set's rows.
struct Evaluation {
  double loss_sum = 0;  ///< the loss's mean over each slice, weighted by the slice's size
  std::int64_t correct = 0;
};

/// Correct predictions among `outputs` (classification); 0 for regression, which has no accuracy.
std::int64_t correct_of(const torch::Tensor& outputs, const torch::Tensor& targets, TaskKind kind) {
  if (kind == TaskKind::regression) return 0;
  return outputs.argmax(1).eq(targets).sum().item<std::int64_t>();
}

/// The test set's rows [from, to), in inference mode, in slices of `batch` samples.
Evaluation evaluate(const Aggregate& aggregate, const Samples& test, TaskKind kind, std::int64_t from,
                    std::int64_t to, std::int64_t batch) {
  aggregate.set_phase(Phase::evaluation);
  const c10::InferenceMode inference;
  Evaluation sums;
  for (std::int64_t first = from; first < to; first += batch) {
    const std::int64_t last = std::min(to, first + batch);
    const torch::Tensor outputs = aggregate.model().forward(test.inputs.slice(0, first, last));
    const torch::Tensor targets = test.targets.slice(0, first, last);
    sums.loss_sum += aggregate.loss(outputs, targets).item<double>() * static_cast<double>(last - first);
    sums.correct += correct_of(outputs, targets, kind);
  }
  return sums;
}

/// A seed for one epoch's dropout on one rank: rank 0 draws what a single process draws, and the other
/// ranks, which see other rows, draw other masks.
std::uint64_t dropout_seed(std::uint64_t seed, std::int64_t epoch, int rank) {
  return epoch_seed(seed, epoch) ^ (static_cast<std::uint64_t>(rank) * 0xD1B54A32D192ED03ULL);
}

/// The shuffled copy of the training split, kept for the whole run. A fresh 188 MB tensor per epoch
/// cost more in page faults than the gather itself (0.6 s of a 1.2 s epoch here); refilled in place,
/// the gather takes a few hundredths of a second.
struct ShuffleBuffers {
  torch::Tensor inputs;
  torch::Tensor targets;

  void fill(const Samples& data, const torch::Tensor& order) {
    gather(inputs, data.inputs, order);
    gather(targets, data.targets, order);
  }

 private:
  /// Rows `order` of `source` into `buffer`, which is (re)made only when its shape or type changes.
  static void gather(torch::Tensor& buffer, const torch::Tensor& source, const torch::Tensor& order) {
    if (!buffer.defined() || !buffer.sizes().equals(source.sizes()) ||
        buffer.scalar_type() != source.scalar_type())
      buffer = training_detail::empty_huge(source.sizes(), source.scalar_type());
    at::index_select_out(buffer, source, 0, order);
  }
};

/// One epoch; nullopt when `stop` was set before it finished (on any rank).
std::optional<EpochRecord> run_epoch(const Aggregate& aggregate, const DataSource& source,
                                     const TrainingConfig& config, std::int64_t epoch,
                                     ShuffleBuffers& shuffled, Peers& peers, TrainingObserver* observer,
                                     const std::atomic<bool>* stop) {
  const auto started = std::chrono::steady_clock::now();
  const Samples data = source.training_samples(epoch);
  const std::int64_t samples = data.inputs.size(0);
  const std::int64_t batches = (samples + config.batch_size - 1) / config.batch_size;
  torch::manual_seed(dropout_seed(config.seed, epoch, peers.rank()));
  // Every rank draws the same permutation: a global batch is the same rows everywhere, and each rank
  // takes its shard of them.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(epoch_seed(config.seed, epoch));
  // Shuffling is one permutation and one gather of the whole split: batches are then slices of one
  // contiguous tensor, with no per-sample or per-batch copying.
  const torch::Tensor order = at::randperm(samples, generator, at::kLong);
  shuffled.fill(data, order);
  const torch::Tensor& shuffled_inputs = shuffled.inputs;
  const torch::Tensor& shuffled_targets = shuffled.targets;

  aggregate.set_phase(Phase::train);
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t batch = 0; batch < batches; ++batch) {
    const bool stop_asked = stop && stop->load(std::memory_order_relaxed);
    // A single process stops here; ranks stop together, after the all-reduce that tells them all.
    if (stop_asked && !peers.group) return std::nullopt;
    const std::int64_t from = batch * config.batch_size, to = std::min(samples, from + config.batch_size);
    const auto [first, last] = peers.shard(from, to);
    const torch::Tensor inputs = shuffled_inputs.slice(0, first, last);
    const torch::Tensor targets = shuffled_targets.slice(0, first, last);
    const double weight = static_cast<double>(last - first) / static_cast<double>(to - from);
    bool stop_everywhere = false;
    torch::Tensor outputs;
    // A closure serves every optimizer: LBFGS evaluates it several times, the others once. Across
    // ranks it returns the global batch's loss, so LBFGS's line search decides alike on every rank.
    torch::optim::Optimizer& optimizer = aggregate.optimizer();
    const torch::Tensor loss = optimizer.step([&] {
      optimizer.zero_grad();
      torch::Tensor value;
      if (last > first) {
        outputs = aggregate.model().forward(inputs);
        value = aggregate.loss(outputs, targets);
        value.backward();
      }
      if (!peers.group) return value;
      const auto reduced = peers.reducer->reduce(
          value, weight, stop_asked,
          "the gradients of epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch + 1));
      stop_everywhere = stop_everywhere || reduced.stop;
      return reduced.loss;
    });
    if (stop_everywhere) return std::nullopt;
    loss_sum += loss.item<double>();
    if (last > first) correct += correct_of(outputs, targets, source.kind());
    if (observer) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      observer->on(BatchDone{epoch, batch + 1, batches, to, samples,
                             loss_sum / static_cast<double>(batch + 1), seconds});
    }
  }

  EpochRecord record;
  record.epoch = epoch;
  record.loss = loss_sum / static_cast<double>(batches);
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  record.samples_per_second = static_cast<double>(samples) / record.seconds;
  const Samples& test = source.test_samples();
  const std::int64_t test_samples = test.inputs.size(0);
  const auto [test_first, test_last] = peers.shard(0, test_samples);
  Evaluation evaluation = evaluate(aggregate, test, source.kind(), test_first, test_last, 1000);
  if (peers.group) {
    const torch::Tensor sums = torch::tensor(
        {static_cast<double>(correct), evaluation.loss_sum, static_cast<double>(evaluation.correct)},
        torch::kDouble);
    peers.group->all_reduce_sum({sums}, "the metrics of epoch " + std::to_string(epoch));
    correct = static_cast<std::int64_t>(sums[0].item<double>());
    evaluation = {sums[1].item<double>(), static_cast<std::int64_t>(sums[2].item<double>())};
  }
  record.accuracy = static_cast<double>(correct) / static_cast<double>(samples);
  record.test_loss = evaluation.loss_sum / static_cast<double>(test_samples);
  record.test_accuracy = static_cast<double>(evaluation.correct) / static_cast<double>(test_samples);
  record.task = to_string(source.kind());
  record.data = source.provenance().to_json();
  return record;
}

/// Runs the model and the loss on two held-out samples, so that a model or loss that does not fit the
/// task is a configuration error before anything is trained or saved, not a failure mid-epoch. For
/// regression the targets take the shape of the model's outputs.
void check_fits_task(const Aggregate& aggregate, DataSource& task) {
  const torch::Tensor inputs = task.test_samples().inputs.slice(0, 0, 2);
  const torch::NoGradGuard no_grad;
  aggregate.set_phase(Phase::evaluation);
  torch::Tensor outputs;
  try {
    outputs = aggregate.model().forward(inputs);
  } catch (const std::exception& error) {
    throw ArgumentError("config.model", "cannot run on the task's inputs of shape " +
                                            c10::str(inputs.sizes()) + ": " + detail::message_of(error));
  }
  const bool regression = task.kind() == TaskKind::regression;
  if (regression) {
    if (outputs.dim() < 1 || outputs.size(0) != inputs.size(0))
      throw ArgumentError("config.model", "gives outputs of shape " + c10::str(outputs.sizes()) + " for " +
                                              std::to_string(inputs.size(0)) + " samples; expected [" +
                                              std::to_string(inputs.size(0)) + ", ...]");
    task.shape_targets(outputs.sizes().slice(1));
  } else {
    // NumPy arrays and CSV define no classes: the model's output width does, and every label must be
    // below it.
    const bool width_decides = task.classes() == 0;
    if (outputs.dim() != 2 || (!width_decides && outputs.size(1) != task.classes()) || outputs.size(1) < 1) {
      const std::string needs = width_decides ? "classes" : std::to_string(task.classes());
      throw ArgumentError("config.model", "gives outputs of shape " + c10::str(outputs.sizes()) +
                                              " for 2 samples; the task needs [2, " + needs +
                                              "] (a score per class)");
    }
    if (width_decides) task.check_labels(outputs.size(1));
  }
  const torch::Tensor targets = task.test_samples().targets.slice(0, 0, inputs.size(0));
  try {
    aggregate.loss(outputs, targets);
  } catch (const std::exception& error) {
    throw ArgumentError("config.criterion", std::string("cannot score the model's outputs against ") +
                                                (regression ? "the targets" : "class indices") + ": " +
                                                detail::message_of(error));
  }
}

/// The loss curve a checkpoint holds (none when another program saved it without one). The checkpoint
/// passed the store's checks, but its "extra" is free-form: a malformed curve names the file.
std::vector<EpochRecord> saved_history(const CheckpointInfo& found) {
  const Json& extra = found.metadata.at("extra");
  if (!extra.is_object() || !extra.contains("history")) return {};
  std::vector<EpochRecord> history;
  try {
    for (const Json& record : extra.at("history")) history.push_back(EpochRecord::from_json(record));
  } catch (const Json::exception& error) {
    throw CheckpointError(
        found.path.string(),
        std::string("its \"extra.history\" is not a list of epoch records: ") + error.what());
  }
  return history;
}

/// What the history's last epoch trained on, when that is not `now` (their digests differ); nullopt when
/// it is the same data, or the history does not say (an earlier checkpoint, another program's).
std::optional<std::string> other_data(const std::vector<EpochRecord>& history, const DataProvenance& now) {
  if (history.empty()) return std::nullopt;
  const auto before = DataProvenance::from_json(history.back().data);
  if (!before || before->digest == now.digest) return std::nullopt;
  return before->summary();
}

Json history_json(const std::vector<EpochRecord>& history) {
  Json json = Json::array();
  for (const auto& record : history) json.push_back(record.to_json());
  return json;
}

/// LibTorch's intra-op threads for the job: TORCHSYSTEM_THREADS, else the configuration's `threads`, else
/// the count measured fastest for the job's shapes on the project's 2-core machines (docs/benchmarks.md).
std::int64_t job_threads(const TrainingConfig& config) {
  constexpr std::int64_t measured_fastest = 1;
  if (const char* text = std::getenv("TORCHSYSTEM_THREADS"); text != nullptr && *text != '\0') {
    Json value;
    try {
      value = parse_json(text);
    } catch (const JsonError&) {
      value = std::string(text);
    }
    return training_detail::positive_int(value, "TORCHSYSTEM_THREADS", 256);
  }
  return config.threads > 0 ? config.threads : measured_fastest;
}

std::vector<std::string> plugin_list(const Json& plugins) {
  if (!plugins.is_array())
    throw ArgumentError("config.plugins",
                        "expected a list of plugin names or paths, got " + describe_json(plugins));
  std::vector<std::string> result;
  for (std::size_t index = 0; index < plugins.size(); ++index) {
    const Json& entry = plugins[index];
    const std::string path = "config.plugins[" + std::to_string(index) + "]";
    result.push_back(
        training_detail::path_value(entry, path, "a plugin name or a library path", {}).string());
  }
  return result;
}

/// The identity's lock in the store: taken at once, or, with `wait_for_lock`, when the job holding it
/// ends; nullopt when `*stop` was set while waiting.
std::optional<IdentityLock> lock_identity(const CheckpointStore& store, const Aggregate& aggregate,
                                          const TrainingConfig& config, TrainingObserver* observer,
                                          const std::atomic<bool>* stop) {
  const std::string name = aggregate.name(), hash = aggregate.hash();
  auto lock = store.try_lock(name, hash);
  if (lock) return lock;
  const std::string holder = store.lock_holder(name, hash);
  if (!config.wait_for_lock) {
    throw CheckpointError(store.lock_path_for(name, hash).string(),
                          "another job is training " + name + "-" + hash + " in this store (" + holder +
                              "); wait for it with --wait, or train another configuration");
  }
  if (observer) observer->on(WaitingForLock{name + "-" + hash, holder});
  // Polled rather than a blocking flock, so that Ctrl-C ends the wait like it ends an epoch.
  while (!(lock = store.try_lock(name, hash))) {
    if (stop && stop->load(std::memory_order_relaxed)) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return lock;
}

}  // namespace

TrainingConfig TrainingConfig::from_json(const Json& config, const std::filesystem::path& base) {
  if (!config.is_object())
    throw ArgumentError("config", "expected a JSON object, got " + describe_json(config));
  for (const auto& [key, value] : config.items()) {
    if (std::find(std::begin(config_keys), std::end(config_keys), key) == std::end(config_keys)) {
      throw ArgumentError("config." + key, "unknown key (a training configuration has " + known_keys() + ")");
    }
  }
  TrainingConfig result;
  result.model = entity_config(config, "model");
  // A TorchScript model's archive, like every path of the configuration, is relative to its file.
  if (const auto archive = result.model.find("torchscript"); archive != result.model.end())
    *archive = training_detail::path_value(*archive, "config.model.torchscript",
                                           "the TorchScript archive's path", base)
                   .string();
  result.criterion = entity_config(config, "criterion");
  result.optimizer = entity_config(config, "optimizer");
  result.epochs = training_detail::positive_int(require(config, "epochs"), "config.epochs", 1'000'000);
  result.batch_size =
      training_detail::positive_int(require(config, "batch_size"), "config.batch_size", 1 << 20);
  const Json& seed = require(config, "seed");
  if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<std::int64_t>() >= 0)) {
    throw ArgumentError("config.seed", "expected an int >= 0, got " + describe_json(seed));
  }
  // The checkpoint records it as Python's int in a pickle's 64-bit signed form: checked now, not at the
  // first save after an epoch of training.
  if (seed.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    throw ArgumentError("config.seed", "expected an int >= 0 and at most " +
                                           std::to_string(std::numeric_limits<std::int64_t>::max()) +
                                           ", got " + describe_json(seed));
  }
  result.seed = seed.get<std::uint64_t>();
  result.store =
      training_detail::path_value(require(config, "store"), "config.store", "the store's directory", base);
  if (config.contains("data")) result.data = DataOptions::from_json(config["data"], "config.data", base);
  if (config.contains("threads"))
    result.threads = training_detail::positive_int(config["threads"], "config.threads", 256);
  if (config.contains("plugins")) result.plugins = plugin_list(config["plugins"]);
  result.base = base;
  return result;
}

Json EpochRecord::to_json() const {
  Json json = {{"epoch", epoch}, {"task", task}, {"loss", loss}};
  if (!regression()) json["accuracy"] = accuracy;
  json["test_loss"] = test_loss;
  if (!regression()) json["test_accuracy"] = test_accuracy;
  json["seconds"] = seconds;
  json["samples_per_second"] = samples_per_second;
  if (!data.is_null()) json["data"] = data;
  return json;
}

EpochRecord EpochRecord::from_json(const Json& json) {
  EpochRecord record;
  record.epoch = json.at("epoch").get<std::int64_t>();
  record.loss = json.at("loss").get<double>();
  record.task = json.value("task", std::string("classification"));
  // A regression epoch has no accuracy.
  record.accuracy = record.regression() ? 0.0 : json.at("accuracy").get<double>();
  record.test_accuracy = record.regression() ? 0.0 : json.at("test_accuracy").get<double>();
  record.data = json.value("data", Json());
  // Recorded since the job trains on data sets; earlier checkpoints' curves lack them.
  record.test_loss = json.value("test_loss", 0.0);
  record.seconds = json.value("seconds", 0.0);
  record.samples_per_second = json.value("samples_per_second", 0.0);
  return record;
}

namespace {

constexpr const char* start_key = "torchsystem/start";
constexpr const char* start_read_key = "torchsystem/start-read";

/// Rank 0 serves the rendezvous store: before it ends on a failure to start, it waits (within the
/// group's timeout) until the other ranks have read why, so that they report it rather than a lost store.
void await_start_read(ProcessGroup& group) {
  const auto deadline = std::chrono::steady_clock::now() + group.options().timeout;
  while (group.add(start_read_key, 0) < group.size() - 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

/// Rank 0's identity lock and the checkpoint every rank resumes from. Rank 0 takes the lock (waiting
/// for it with --wait) and tells the others through the rendezvous store; then every rank loads the
/// same checkpoint and they check that they found the same epoch. nullopt when stopped while waiting.
struct Start {
  std::optional<IdentityLock> lock;
  std::optional<CheckpointInfo> found;
  bool interrupted = false;
};

Start start_ranks(const CheckpointStore& store, const Aggregate& aggregate, const TrainingConfig& config,
                  Peers& peers, TrainingObserver* observer, const std::atomic<bool>* stop) {
  Start start;
  if (peers.rank() == 0) {
    try {
      start.lock = lock_identity(store, aggregate, config, observer, stop);
    } catch (const std::exception& error) {
      if (peers.group) {
        peers.group->publish(start_key, std::string("failed: ") + error.what());
        await_start_read(*peers.group);
      }
      throw;
    }
    start.interrupted = !start.lock;
    if (peers.group) peers.group->publish(start_key, start.interrupted ? "interrupted" : "locked");
  } else {
    const auto told = peers.group->wait_for(start_key, "rank 0 to take the identity's lock", stop);
    if (told) peers.group->add(start_read_key, 1);
    if (told && told->starts_with("failed: "))
      throw DistributedError(peers.rank(), peers.size(), "rank 0 could not start: " + told->substr(8));
    start.interrupted = !told || *told == "interrupted";
  }
  if (start.interrupted) return start;
  start.found = store.load(aggregate);
  if (!peers.group) return start;

  const std::int64_t epoch = start.found ? start.found->epoch : 0;
  const torch::Tensor rank0_epoch = torch::tensor({epoch}, torch::kLong);
  peers.group->broadcast({rank0_epoch}, "the epoch rank 0 resumes from");
  const std::int64_t expected = rank0_epoch.item<std::int64_t>();
  const torch::Tensor differ = torch::tensor({epoch == expected ? 0L : 1L}, torch::kLong);
  peers.group->all_reduce_sum({differ}, "whether the ranks found the same checkpoint");
  if (differ.item<std::int64_t>() != 0) {
    throw DistributedError(peers.rank(), peers.size(),
                           std::to_string(differ.item<std::int64_t>()) +
                               " rank(s) found another checkpoint of " + aggregate.name() + "-" +
                               aggregate.hash() + " in " + store.directory().string() +
                               " than rank 0, which resumes from epoch " + std::to_string(expected) +
                               " (this rank found epoch " + std::to_string(epoch) +
                               "); every rank must read the same store, a directory they share");
  }
  // Equal already when resumed from one file; on a fresh start this makes them equal however each
  // rank's initialization went.
  std::vector<torch::Tensor> state;
  for (const auto& [name, tensor] : aggregate.model().state()) state.push_back(tensor);
  peers.group->broadcast(state, "the initial state");
  return start;
}

TrainingReport run_job(const TrainingConfig& config, const Registries& registries, Peers& peers,
                       TrainingObserver* rank_observer, const std::atomic<bool>* stop) {
  // Only rank 0 reports: its events describe the whole job.
  TrainingObserver* observer = peers.rank() == 0 ? rank_observer : nullptr;
  const std::int64_t threads = job_threads(config);
  at::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(config.seed);  // the model's initial weights
  const Aggregate aggregate = build_aggregate(config.model, config.criterion, config.optimizer, registries);
  DataSource task(config.data, config.seed, task_kind_of(getname(aggregate.criterion())));
  if (observer)
    observer->on(JobStarted{task.description(), threads, peers.size(), to_string(task.kind()),
                            peers.group ? peers.group->address() : std::string()});
  check_fits_task(aggregate, task);

  TrainingReport report;
  report.identity = aggregate.name() + "-" + aggregate.hash();
  const CheckpointStore store(config.store);
  report.checkpoint = store.path_for(aggregate.name(), aggregate.hash());
  if (observer) {
    const auto& optimizer = aggregate.optimizer_ptr();
    observer->on(AggregateReady{report.identity, aggregate.model().parameter_count(),
                                getname(aggregate.criterion()), getname(optimizer), getarguments(optimizer)});
  }
  // The lock is held until the job ends, from before the load: the epochs it saves follow the ones it
  // resumed from. Only rank 0 holds it, and only rank 0 saves.
  const Start start = start_ranks(store, aggregate, config, peers, observer, stop);
  if (start.interrupted) {
    report.interrupted = true;
    if (observer) observer->on(JobInterrupted{0});
    return report;
  }
  // The store keeps a TorchScript model's archive beside its checkpoint: the store alone serves it.
  if (peers.rank() == 0 && config.model.contains("torchscript"))
    store.keep_script_archive(aggregate.name(), aggregate.hash(),
                              config.model["torchscript"].get<std::string>());
  if (const auto& found = start.found) {
    report.resumed_from = found->epoch;
    report.history = saved_history(*found);
    // Epochs are counted in an int64_t: a checkpoint near its end cannot be trained further.
    if (report.resumed_from > std::numeric_limits<std::int64_t>::max() - config.epochs) {
      throw CheckpointError(found->path.string(), "holds epoch " + std::to_string(report.resumed_from) +
                                                      ": " + std::to_string(config.epochs) +
                                                      " more would pass the last epoch an int64 counts");
    }
  }
  if (observer) {
    JobResumed resumed{report.resumed_from, start.found ? start.found->path : std::filesystem::path(),
                       config.store, other_data(report.history, task.provenance()),
                       task.provenance().summary()};
    observer->on(resumed);
  }
  if (peers.group)
    peers.reducer = std::make_unique<GradientReducer>(*peers.group, aggregate.model().parameters());

  ShuffleBuffers shuffled;
  for (std::int64_t epoch = report.resumed_from + 1; epoch <= report.resumed_from + config.epochs; ++epoch) {
    const double exchanged_before = peers.reducer ? peers.reducer->exchange_seconds() : 0;
    const std::int64_t exchanges_before = peers.reducer ? peers.reducer->exchanges() : 0;
    const auto record = run_epoch(aggregate, task, config, epoch, shuffled, peers, observer, stop);
    if (!record) {
      report.interrupted = true;
      if (observer) observer->on(JobInterrupted{epoch});
      break;
    }
    report.history.push_back(*record);
    if (peers.rank() != 0) continue;
    Json extra = {{"history", history_json(report.history)},
                  {"seed", config.seed},
                  {"batch_size", config.batch_size},
                  {"data", config.data.to_json()}};
    if (peers.group) extra["processes"] = peers.size();
    aggregate.set_epoch(epoch);
    store.save(aggregate, extra);
    if (!observer) continue;
    EpochDone done{*record, report.checkpoint, std::nullopt};
    if (peers.reducer) {
      // The gradients' all-reduce per optimizer step, waiting for the slowest rank included.
      const auto steps = std::max<std::int64_t>(1, peers.reducer->exchanges() - exchanges_before);
      done.all_reduce_ms =
          1000 * (peers.reducer->exchange_seconds() - exchanged_before) / static_cast<double>(steps);
    }
    observer->on(done);
  }
  return report;
}

}  // namespace

TrainingReport train(const TrainingConfig& config, const Registries& registries, TrainingObserver* observer,
                     const std::atomic<bool>* stop) {
  Peers alone;
  return run_job(config, registries, alone, observer, stop);
}

TrainingReport train(const TrainingConfig& config, const Registries& registries, ProcessGroup& group,
                     TrainingObserver* observer, const std::atomic<bool>* stop) {
  Peers peers;
  if (group.size() > 1) peers.group = &group;
  return run_job(config, registries, peers, observer, stop);
}

}  // namespace torchsystem
