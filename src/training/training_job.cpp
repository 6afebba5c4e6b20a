#include "torchsystem/training/training_job.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/modules/container/any.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/catalog.hpp"
#include "torchsystem/torch/module.hpp"
#include "torchsystem/training/checkpoint_store.hpp"
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

/// Builds with the configuration's key in front of the error's path: `config.model -> MLP.hidden_size`.
template <class F>
auto built(const char* key, F&& build) {
  try {
    return build();
  } catch (const ArgumentError& error) {
    const std::string here = std::string("config.") + key;
    error.rethrow_at(error.path().empty() ? here : here + " -> " + error.path());
  }
}

/// A seed for one epoch's shuffling and dropout: distinct epochs of one run, and runs with distinct
/// seeds, draw different streams.
std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) {
  return seed ^ (static_cast<std::uint64_t>(epoch) * 0x9E3779B97F4A7C15ULL);
}

std::string percent(double fraction) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << 100.0 * fraction << "%";
  return text.str();
}

/// Progress while an epoch runs: a redrawn bar on a terminal, else a line at each quarter; both show
/// the samples per second so far and the time the epoch has left at that pace.
class Progress {
 public:
  Progress(std::ostream& out, std::int64_t epoch, std::int64_t batches, std::int64_t samples, bool in_place)
      : out_(out),
        epoch_(epoch),
        batches_(batches),
        samples_(samples),
        in_place_(in_place),
        started_(std::chrono::steady_clock::now()) {}

  void update(std::int64_t done, std::int64_t samples_done, double mean_loss) {
    const bool last = done == batches_;
    if (in_place_) {
      const auto step = std::max<std::int64_t>(1, batches_ / 50);
      if (done % step != 0 && !last) return;
    } else {
      const std::int64_t quarter = 4 * done / batches_;
      if (quarter == reported_ || last) return;
      reported_ = quarter;
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const double rate = elapsed > 0 ? static_cast<double>(samples_done) / elapsed : 0;
    const double left = rate > 0 ? static_cast<double>(samples_ - samples_done) / rate : 0;
    std::ostringstream line;
    line << std::fixed << std::setprecision(4) << "loss " << mean_loss << std::setprecision(0) << "  " << rate
         << " samples/s  " << std::setprecision(1) << left << " s left";
    if (in_place_) {
      const auto filled = static_cast<int>(30 * done / batches_);
      out_ << "\r  epoch " << epoch_ << " [" << std::string(filled, '#') << std::string(30 - filled, '.')
           << "] " << std::setw(3) << 100 * done / batches_ << "%  " << line.str() << std::flush;
      return;
    }
    out_ << "  epoch " << epoch_ << ": " << 25 * reported_ << "% (" << done << "/" << batches_
         << " batches), " << line.str() << std::endl;
  }

  void finish() {
    if (in_place_) out_ << "\r" << std::string(100, ' ') << "\r" << std::flush;
  }

 private:
  std::ostream& out_;
  std::int64_t epoch_;
  std::int64_t batches_;
  std::int64_t samples_;
  bool in_place_;
  std::int64_t reported_ = 0;
  std::chrono::steady_clock::time_point started_;
};

struct Trainee {
  torch::nn::AnyModule model;
  torch::nn::AnyModule criterion;
  std::shared_ptr<torch::optim::Optimizer> optimizer;
};

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

/// The test set's rows [from, to), in inference mode, in slices of `batch` samples.
Evaluation evaluate(Trainee& trainee, const Samples& test, std::int64_t from, std::int64_t to,
                    std::int64_t batch) {
  trainee.model.ptr()->eval();
  const c10::InferenceMode inference;
  Evaluation sums;
  for (std::int64_t first = from; first < to; first += batch) {
    const std::int64_t last = std::min(to, first + batch);
    const torch::Tensor outputs = trainee.model.forward(test.inputs.slice(0, first, last));
    const torch::Tensor targets = test.targets.slice(0, first, last);
    sums.loss_sum +=
        trainee.criterion.forward(outputs, targets).item<double>() * static_cast<double>(last - first);
    sums.correct += outputs.argmax(1).eq(targets).sum().item<std::int64_t>();
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
      buffer = torch::empty_like(source, at::MemoryFormat::Contiguous);
    at::index_select_out(buffer, source, 0, order);
  }
};

/// One epoch; nullopt when `stop` was set before it finished (on any rank).
std::optional<EpochRecord> run_epoch(Trainee& trainee, const DataSource& source, const TrainingConfig& config,
                                     std::int64_t epoch, ShuffleBuffers& shuffled, Peers& peers,
                                     std::ostream& out, const std::atomic<bool>* stop, bool in_place) {
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

  trainee.model.ptr()->train();
  Progress progress(out, epoch, batches, samples, in_place);
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t batch = 0; batch < batches; ++batch) {
    const bool stop_asked = stop && stop->load(std::memory_order_relaxed);
    // A single process stops here; ranks stop together, after the all-reduce that tells them all.
    if (stop_asked && !peers.group) {
      progress.finish();
      return std::nullopt;
    }
    const std::int64_t from = batch * config.batch_size, to = std::min(samples, from + config.batch_size);
    const auto [first, last] = peers.shard(from, to);
    const torch::Tensor inputs = shuffled_inputs.slice(0, first, last);
    const torch::Tensor targets = shuffled_targets.slice(0, first, last);
    const double weight = static_cast<double>(last - first) / static_cast<double>(to - from);
    bool stop_everywhere = false;
    torch::Tensor outputs;
    // A closure serves every optimizer: LBFGS evaluates it several times, the others once. Across
    // ranks it returns the global batch's loss, so LBFGS's line search decides alike on every rank.
    const torch::Tensor loss = trainee.optimizer->step([&] {
      trainee.optimizer->zero_grad();
      torch::Tensor value;
      if (last > first) {
        outputs = trainee.model.forward(inputs);
        value = trainee.criterion.forward(outputs, targets);
        value.backward();
      }
      if (!peers.group) return value;
      const auto reduced = peers.reducer->reduce(
          value, weight, stop_asked,
          "the gradients of epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch + 1));
      stop_everywhere = stop_everywhere || reduced.stop;
      return reduced.loss;
    });
    if (stop_everywhere) {
      progress.finish();
      return std::nullopt;
    }
    loss_sum += loss.item<double>();
    if (last > first) correct += outputs.argmax(1).eq(targets).sum().item<std::int64_t>();
    progress.update(batch + 1, to, loss_sum / static_cast<double>(batch + 1));
  }
  progress.finish();

  EpochRecord record;
  record.epoch = epoch;
  record.loss = loss_sum / static_cast<double>(batches);
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  record.samples_per_second = static_cast<double>(samples) / record.seconds;
  const Samples& test = source.test_samples();
  const std::int64_t test_samples = test.inputs.size(0);
  const auto [test_first, test_last] = peers.shard(0, test_samples);
  Evaluation evaluation = evaluate(trainee, test, test_first, test_last, 1000);
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
  return record;
}

/// Runs the model and the loss on two held-out samples, so that a model or loss that does not fit the
/// task is a configuration error before anything is trained or saved, not a failure mid-epoch.
void check_fits_task(Trainee& trainee, const DataSource& task) {
  const Samples& test = task.test_samples();
  const torch::Tensor inputs = test.inputs.slice(0, 0, 2);
  const torch::Tensor targets = test.targets.slice(0, 0, 2);
  const torch::NoGradGuard no_grad;
  trainee.model.ptr()->eval();
  torch::Tensor outputs;
  try {
    outputs = trainee.model.forward(inputs);
  } catch (const std::exception& error) {
    throw ArgumentError("config.model", "cannot run on the task's inputs of shape [2, " +
                                            std::to_string(task.features()) +
                                            "]: " + training_detail::message_of(error));
  }
  if (outputs.dim() != 2 || outputs.size(1) != task.classes()) {
    std::ostringstream shape;
    shape << outputs.sizes();
    throw ArgumentError("config.model", "gives outputs of shape " + shape.str() +
                                            " for 2 samples; the task needs [2, " +
                                            std::to_string(task.classes()) + "] (a score per class)");
  }
  try {
    trainee.criterion.forward(outputs, targets);
  } catch (const std::exception& error) {
    throw ArgumentError("config.criterion", "cannot score the model's outputs against class indices: " +
                                                training_detail::message_of(error));
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
    if (!entry.is_string() || entry.get_ref<const std::string&>().empty()) {
      throw ArgumentError("config.plugins[" + std::to_string(index) + "]",
                          "expected a plugin name or a library path, got " + describe_json(entry));
    }
    result.push_back(entry.get<std::string>());
  }
  return result;
}

/// The identity's lock in the store: taken at once, or, with `wait_for_lock`, when the job holding it
/// ends; nullopt when `*stop` was set while waiting.
std::optional<IdentityLock> lock_identity(const CheckpointStore& store, const TrainingAggregate& aggregate,
                                          const TrainingConfig& config, std::ostream& out,
                                          const std::atomic<bool>* stop) {
  const std::string name = getname(aggregate.model), hash = gethash(aggregate.model);
  auto lock = store.try_lock(name, hash);
  if (lock) return lock;
  const std::string holder = store.lock_holder(name, hash);
  if (!config.wait_for_lock) {
    throw CheckpointError(store.lock_path_for(name, hash).string(),
                          "another job is training " + name + "-" + hash + " in this store (" + holder +
                              "); wait for it with --wait, or train another configuration");
  }
  out << "waiting for the job training " << name << "-" << hash << " (" << holder << ")" << std::endl;
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
  result.criterion = entity_config(config, "criterion");
  result.optimizer = entity_config(config, "optimizer");
  result.epochs = training_detail::positive_int(require(config, "epochs"), "config.epochs", 1'000'000);
  result.batch_size =
      training_detail::positive_int(require(config, "batch_size"), "config.batch_size", 1 << 20);
  const Json& seed = require(config, "seed");
  if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<std::int64_t>() >= 0)) {
    throw ArgumentError("config.seed", "expected an int >= 0, got " + describe_json(seed));
  }
  result.seed = seed.get<std::uint64_t>();
  const Json& store = require(config, "store");
  if (!store.is_string() || store.get_ref<const std::string&>().empty()) {
    throw ArgumentError("config.store",
                        "expected the store's directory as a non-empty string, got " + describe_json(store));
  }
  result.store = std::filesystem::path(store.get<std::string>());
  if (result.store.is_relative() && !base.empty()) result.store = (base / result.store).lexically_normal();
  if (config.contains("data")) result.data = DataOptions::from_json(config["data"], "config.data", base);
  if (config.contains("threads"))
    result.threads = training_detail::positive_int(config["threads"], "config.threads", 256);
  if (config.contains("plugins")) result.plugins = plugin_list(config["plugins"]);
  result.base = base;
  return result;
}

Json EpochRecord::to_json() const {
  return {{"epoch", epoch},
          {"loss", loss},
          {"accuracy", accuracy},
          {"test_loss", test_loss},
          {"test_accuracy", test_accuracy},
          {"seconds", seconds},
          {"samples_per_second", samples_per_second}};
}

EpochRecord EpochRecord::from_json(const Json& json) {
  EpochRecord record;
  record.epoch = json.at("epoch").get<std::int64_t>();
  record.loss = json.at("loss").get<double>();
  record.accuracy = json.at("accuracy").get<double>();
  record.test_accuracy = json.at("test_accuracy").get<double>();
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

Start start_ranks(const CheckpointStore& store, const TrainingAggregate& aggregate,
                  const TrainingConfig& config, Peers& peers, std::ostream& out,
                  const std::atomic<bool>* stop) {
  Start start;
  if (peers.rank() == 0) {
    try {
      start.lock = lock_identity(store, aggregate, config, out, stop);
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
                               " rank(s) found another checkpoint of " + getname(aggregate.model) + "-" +
                               gethash(aggregate.model) + " in " + store.directory().string() +
                               " than rank 0, which resumes from epoch " + std::to_string(expected) +
                               " (this rank found epoch " + std::to_string(epoch) +
                               "); every rank must read the same store, a directory they share");
  }
  // Equal already when resumed from one file; on a fresh start this makes them equal however each
  // rank's initialization went.
  std::vector<torch::Tensor> state = aggregate.model->parameters();
  for (const auto& buffer : aggregate.model->buffers()) state.push_back(buffer);
  peers.group->broadcast(state, "the initial state");
  return start;
}

/// A stream that drops what it is given: the output of the ranks other than 0.
class NullStream : public std::ostream {
 public:
  NullStream() : std::ostream(nullptr) {}
};

TrainingReport run_job(const TrainingConfig& config, const Registry<torch::nn::Module>& models, Peers& peers,
                       std::ostream& rank_out, const std::atomic<bool>* stop, bool progress_in_place) {
  NullStream dropped;
  std::ostream& out = peers.rank() == 0 ? rank_out : dropped;
  const TorchCatalog& catalog = torch_catalog();
  const std::int64_t threads = job_threads(config);
  at::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(config.seed);  // the model's initial weights
  Trainee trainee;
  trainee.model = built("model", [&] { return models.create_as<torch::nn::AnyModule>(config.model); });
  trainee.criterion =
      built("criterion", [&] { return catalog.losses.create_as<torch::nn::AnyModule>(config.criterion); });
  trainee.optimizer = built("optimizer", [&] {
    return catalog.optimizers.create(config.optimizer, trainee.model.ptr()->parameters());
  });
  const TrainingAggregate aggregate{trainee.model.ptr(), trainee.criterion.ptr(), trainee.optimizer};
  const DataSource task(config.data, config.seed);
  out << "data " << task.description() << "; " << threads << (threads == 1 ? " thread" : " threads");
  if (peers.group) out << " in each of " << peers.size() << " processes";
  out << "\n";
  check_fits_task(trainee, task);

  TrainingReport report;
  report.identity = getname(aggregate.model) + "-" + gethash(aggregate.model);
  const CheckpointStore store(config.store);
  report.checkpoint = store.path_for(getname(aggregate.model), gethash(aggregate.model));
  out << "model " << report.identity << " (" << parameter_count(*aggregate.model) << " parameters), "
      << getname(aggregate.criterion) << ", " << getname(aggregate.optimizer) << " "
      << dumps(getarguments(aggregate.optimizer)) << "\n";
  // The lock is held until the job ends, from before the load: the epochs it saves follow the ones it
  // resumed from. Only rank 0 holds it, and only rank 0 saves.
  const Start start = start_ranks(store, aggregate, config, peers, out, stop);
  if (start.interrupted) {
    report.interrupted = true;
    out << "interrupted while waiting for the identity's lock: nothing was trained\n";
    return report;
  }
  if (const auto& found = start.found) {
    report.resumed_from = found->epoch;
    report.history = saved_history(*found);
    out << "resuming from epoch " << found->epoch << " (" << found->path.string() << ")\n";
  } else {
    out << "no checkpoint of this identity in " << config.store.string() << ": starting fresh\n";
  }
  if (peers.group)
    peers.reducer = std::make_unique<GradientReducer>(*peers.group, aggregate.model->parameters());

  ShuffleBuffers shuffled;
  for (std::int64_t epoch = report.resumed_from + 1; epoch <= report.resumed_from + config.epochs; ++epoch) {
    const double exchanged_before = peers.reducer ? peers.reducer->exchange_seconds() : 0;
    const std::int64_t exchanges_before = peers.reducer ? peers.reducer->exchanges() : 0;
    const auto record =
        run_epoch(trainee, task, config, epoch, shuffled, peers, out, stop, progress_in_place);
    if (!record) {
      report.interrupted = true;
      out << "interrupted during epoch " << epoch << ": it is not saved; the checkpoint holds epoch "
          << epoch - 1 << "\n";
      break;
    }
    report.history.push_back(*record);
    if (peers.rank() != 0) continue;
    Json extra = {{"history", history_json(report.history)},
                  {"seed", config.seed},
                  {"batch_size", config.batch_size},
                  {"data", config.data.to_json()}};
    if (peers.group) extra["processes"] = peers.size();
    store.save(aggregate, epoch, extra);
    out << "epoch " << epoch << "  loss " << std::fixed << std::setprecision(4) << record->loss
        << "  accuracy " << percent(record->accuracy) << "  test loss " << record->test_loss
        << "  test accuracy " << percent(record->test_accuracy) << "  " << std::setprecision(1)
        << record->seconds << " s (" << std::setprecision(0) << record->samples_per_second << " samples/s)";
    if (peers.reducer) {
      // The gradients' all-reduce per optimizer step, waiting for the slowest rank included.
      const auto steps = std::max<std::int64_t>(1, peers.reducer->exchanges() - exchanges_before);
      out << "  all-reduce " << std::setprecision(3)
          << 1000 * (peers.reducer->exchange_seconds() - exchanged_before) / static_cast<double>(steps)
          << " ms/step";
    }
    out << "  saved " << report.checkpoint.filename().string() << std::endl;
  }
  return report;
}

}  // namespace

TrainingReport train(const TrainingConfig& config, const Registry<torch::nn::Module>& models,
                     std::ostream& out, const std::atomic<bool>* stop, bool progress_in_place) {
  Peers alone;
  return run_job(config, models, alone, out, stop, progress_in_place);
}

TrainingReport train(const TrainingConfig& config, const Registry<torch::nn::Module>& models,
                     ProcessGroup& group, std::ostream& out, const std::atomic<bool>* stop,
                     bool progress_in_place) {
  Peers peers;
  if (group.size() > 1) peers.group = &group;
  return run_job(config, models, peers, out, stop, progress_in_place);
}

}  // namespace torchsystem
