#include "torchsystem/training_job.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/container/any.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>

#include "torchsystem/checkpoint_store.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/torch/catalog.hpp"
#include "torchsystem/torch/module.hpp"
#include "torchsystem/value_traits.hpp"
#include "training_support.hpp"

namespace torchsystem {

namespace {

constexpr std::string_view config_keys[] = {"model",      "criterion", "optimizer", "epochs",
                                            "batch_size", "seed",      "store",     "data"};

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
    throw ArgumentError(std::string("config.") + key + " -> " + error.path(), error.reason());
  } catch (const UnknownNameError& error) {
    throw ArgumentError(std::string("config.") + key, error.what());
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

/// Progress while an epoch runs: a redrawn bar on a terminal, else a line at each quarter.
class Progress {
 public:
  Progress(std::ostream& out, std::int64_t epoch, std::int64_t batches, bool in_place)
      : out_(out), epoch_(epoch), batches_(batches), in_place_(in_place) {}

  void update(std::int64_t done, double mean_loss) {
    if (in_place_) {
      const auto step = std::max<std::int64_t>(1, batches_ / 50);
      if (done % step != 0 && done != batches_) return;
      const auto filled = static_cast<int>(30 * done / batches_);
      out_ << "\r  epoch " << epoch_ << " [" << std::string(filled, '#') << std::string(30 - filled, '.')
           << "] " << std::setw(3) << 100 * done / batches_ << "%  loss " << std::fixed
           << std::setprecision(4) << mean_loss << std::flush;
      return;
    }
    const std::int64_t quarter = 4 * done / batches_;
    if (quarter == reported_ || done == batches_) return;
    reported_ = quarter;
    out_ << "  epoch " << epoch_ << ": " << 25 * quarter << "% (" << done << "/" << batches_
         << " batches), loss " << std::fixed << std::setprecision(4) << mean_loss << std::endl;
  }

  void finish() {
    if (in_place_) out_ << "\r" << std::string(70, ' ') << "\r" << std::flush;
  }

 private:
  std::ostream& out_;
  std::int64_t epoch_;
  std::int64_t batches_;
  bool in_place_;
  std::int64_t reported_ = 0;
};

struct Trainee {
  torch::nn::AnyModule model;
  torch::nn::AnyModule criterion;
  std::shared_ptr<torch::optim::Optimizer> optimizer;
};

double accuracy(const torch::Tensor& outputs, const torch::Tensor& targets) {
  return outputs.argmax(1).eq(targets).sum().item<double>() / static_cast<double>(targets.size(0));
}

/// One epoch; nullopt when `stop` was set before it finished.
std::optional<EpochRecord> run_epoch(Trainee& trainee, const PrototypeTask& task,
                                     const TrainingConfig& config, std::int64_t epoch, std::ostream& out,
                                     const std::atomic<bool>* stop, bool in_place) {
  const Samples data = task.training_samples(epoch);
  const std::int64_t samples = data.inputs.size(0);
  const std::int64_t batches = (samples + config.batch_size - 1) / config.batch_size;
  torch::manual_seed(epoch_seed(config.seed, epoch));  // dropout
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(epoch_seed(config.seed, epoch));
  const torch::Tensor order = at::randperm(samples, generator, at::kLong);

  trainee.model.ptr()->train();
  Progress progress(out, epoch, batches, in_place);
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t batch = 0; batch < batches; ++batch) {
    if (stop && stop->load(std::memory_order_relaxed)) {
      progress.finish();
      return std::nullopt;
    }
    const torch::Tensor indices = order.slice(0, batch * config.batch_size, (batch + 1) * config.batch_size);
    const torch::Tensor inputs = data.inputs.index_select(0, indices);
    const torch::Tensor targets = data.targets.index_select(0, indices);
    torch::Tensor outputs;
    // A closure serves every optimizer: LBFGS evaluates it several times, the others once.
    const torch::Tensor loss = trainee.optimizer->step([&] {
      trainee.optimizer->zero_grad();
      outputs = trainee.model.forward(inputs);
      torch::Tensor value = trainee.criterion.forward(outputs, targets);
      value.backward();
      return value;
    });
    loss_sum += loss.item<double>();
    correct += outputs.argmax(1).eq(targets).sum().item<std::int64_t>();
    progress.update(batch + 1, loss_sum / static_cast<double>(batch + 1));
  }
  progress.finish();

  EpochRecord record;
  record.epoch = epoch;
  record.loss = loss_sum / static_cast<double>(batches);
  record.accuracy = static_cast<double>(correct) / static_cast<double>(samples);
  trainee.model.ptr()->eval();
  {
    const torch::NoGradGuard no_grad;
    const Samples& test = task.test_samples();
    record.test_accuracy = accuracy(trainee.model.forward(test.inputs), test.targets);
  }
  return record;
}

/// Runs the model and the loss on two held-out samples, so that a model or loss that does not fit the
/// task is a configuration error before anything is trained or saved, not a failure mid-epoch.
void check_fits_task(Trainee& trainee, const PrototypeTask& task) {
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
                                            std::to_string(task.options().features) +
                                            "]: " + training_detail::message_of(error));
  }
  if (outputs.dim() != 2 || outputs.size(1) != task.options().classes) {
    std::ostringstream shape;
    shape << outputs.sizes();
    throw ArgumentError("config.model", "gives outputs of shape " + shape.str() +
                                            " for 2 samples; the task needs [2, " +
                                            std::to_string(task.options().classes) + "] (a score per class)");
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
  if (config.contains("data")) result.data = SyntheticDataOptions::from_json(config["data"], "config.data");
  return result;
}

Json EpochRecord::to_json() const {
  return {{"epoch", epoch}, {"loss", loss}, {"accuracy", accuracy}, {"test_accuracy", test_accuracy}};
}

EpochRecord EpochRecord::from_json(const Json& json) {
  EpochRecord record;
  record.epoch = json.at("epoch").get<std::int64_t>();
  record.loss = json.at("loss").get<double>();
  record.accuracy = json.at("accuracy").get<double>();
  record.test_accuracy = json.at("test_accuracy").get<double>();
  return record;
}

TrainingReport train(const TrainingConfig& config, const Registry<torch::nn::Module>& models,
                     std::ostream& out, const std::atomic<bool>* stop, bool progress_in_place) {
  const TorchCatalog& catalog = torch_catalog();
  torch::manual_seed(config.seed);  // the model's initial weights
  Trainee trainee;
  trainee.model = built("model", [&] { return models.create_as<torch::nn::AnyModule>(config.model); });
  trainee.criterion =
      built("criterion", [&] { return catalog.losses.create_as<torch::nn::AnyModule>(config.criterion); });
  trainee.optimizer = built("optimizer", [&] {
    return catalog.optimizers.create(config.optimizer, trainee.model.ptr()->parameters());
  });
  const TrainingAggregate aggregate{trainee.model.ptr(), trainee.criterion.ptr(), trainee.optimizer};
  const PrototypeTask task(config.data, config.seed);
  check_fits_task(trainee, task);

  TrainingReport report;
  report.identity = getname(aggregate.model) + "-" + gethash(aggregate.model);
  const CheckpointStore store(config.store);
  report.checkpoint = store.path_for(getname(aggregate.model), gethash(aggregate.model));
  out << "model " << report.identity << " (" << parameter_count(*aggregate.model) << " parameters), "
      << getname(aggregate.criterion) << ", " << getname(aggregate.optimizer) << " "
      << dumps(getarguments(aggregate.optimizer)) << "\n";
  if (const auto found = store.load(aggregate)) {
    report.resumed_from = found->epoch;
    report.history = saved_history(*found);
    out << "resuming from epoch " << found->epoch << " (" << found->path.string() << ")\n";
  } else {
    out << "no checkpoint of this identity in " << config.store.string() << ": starting fresh\n";
  }

  for (std::int64_t epoch = report.resumed_from + 1; epoch <= report.resumed_from + config.epochs; ++epoch) {
    const auto record = run_epoch(trainee, task, config, epoch, out, stop, progress_in_place);
    if (!record) {
      report.interrupted = true;
      out << "interrupted during epoch " << epoch << ": it is not saved; the checkpoint holds epoch "
          << epoch - 1 << "\n";
      break;
    }
    report.history.push_back(*record);
    const Json extra = {{"history", history_json(report.history)},
                        {"seed", config.seed},
                        {"batch_size", config.batch_size},
                        {"data", config.data.to_json()}};
    store.save(aggregate, epoch, extra);
    out << "epoch " << epoch << "  loss " << std::fixed << std::setprecision(4) << record->loss
        << "  accuracy " << percent(record->accuracy) << "  test accuracy " << percent(record->test_accuracy)
        << "  saved " << report.checkpoint.filename().string() << std::endl;
  }
  return report;
}

}  // namespace torchsystem
