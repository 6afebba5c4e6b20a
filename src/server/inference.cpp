// Inference on stored checkpoints (see inference.hpp).
#include "inference.hpp"

#include <c10/core/InferenceMode.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "api_support.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/torch/allocation_limit.hpp"
#include "torchsystem/torch/detail/message.hpp"
#include "torchsystem/torch/module.hpp"
#include "torchsystem/torch/script_model.hpp"

namespace torchsystem::server {
namespace {

/// The most elements one input may hold; the body limit bounds it first in practice.
constexpr std::int64_t max_elements = std::int64_t{1} << 28;
constexpr std::size_t max_rank = 8;

[[noreturn]] void bad_input(const std::string& input, const std::string& reason) {
  throw ApiError(400, "invalid_tensor", "input \"" + input + "\": " + reason, {{"input", input}});
}

/// What the model's first layer with parameters says of its input: a Linear's in_features, an
/// Embedding's integer indices, a convolution's channels. Anything else is left to the model.
TensorSpec input_spec(torch::nn::Module& module) {
  TensorSpec spec{"input", "FP32", {-1}, false};
  for (const auto& child : module.modules(/*include_self=*/true)) {
    if (const auto* linear = child->as<torch::nn::Linear>()) {
      spec.shape = {-1, linear->options.in_features()};
      spec.known = true;
    } else if (child->as<torch::nn::Embedding>()) {
      spec.datatype = "INT64";
      spec.shape = {-1, -1};
      spec.known = true;
    } else if (const auto* conv1d = child->as<torch::nn::Conv1d>()) {
      spec.shape = {-1, conv1d->options.in_channels(), -1};
      spec.known = true;
    } else if (const auto* conv2d = child->as<torch::nn::Conv2d>()) {
      spec.shape = {-1, conv2d->options.in_channels(), -1, -1};
      spec.known = true;
    } else if (child->parameters(/*recurse=*/false).empty()) {
      continue;  // a container or a parameterless layer: look further
    }
    break;
  }
  return spec;
}

std::string datatype_of(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat:
      return "FP32";
    case torch::kDouble:
      return "FP64";
    case torch::kInt:
      return "INT32";
    case torch::kLong:
      return "INT64";
    default:
      return "";
  }
}

torch::ScalarType scalar_type_of(const std::string& datatype) {
  if (datatype == "FP32") return torch::kFloat;
  if (datatype == "FP64") return torch::kDouble;
  if (datatype == "INT32") return torch::kInt;
  return torch::kLong;
}

/// The output's shape and type, from one forward on zeros (each -1 of the input taken as 1), when the
/// input is known and has no spatial dimensions.
TensorSpec output_spec(LoadedModel& model) {
  TensorSpec spec{"output", "FP32", {-1}, false};
  if (!model.input.known) return spec;
  std::vector<std::int64_t> shape = model.input.shape;
  for (auto& dimension : shape) dimension = dimension < 0 ? 1 : dimension;
  if (model.input.shape.size() > 2) return spec;  // a convolution's spatial size is anyone's guess
  try {
    c10::InferenceMode inference;
    const torch::Tensor probe =
        torch::zeros(shape, torch::TensorOptions().dtype(scalar_type_of(model.input.datatype)));
    const torch::Tensor out = model.aggregate.model().forward(probe);
    spec.datatype = datatype_of(out.scalar_type()).empty() ? "FP32" : datatype_of(out.scalar_type());
    spec.shape.assign(out.sizes().begin(), out.sizes().end());
    // The output's leading dimensions follow the input's free ones (the batch, an Embedding's length).
    for (std::size_t i = 0; i < spec.shape.size() && i < model.input.shape.size(); ++i) {
      if (model.input.shape[i] < 0) spec.shape[i] = -1;
    }
    spec.known = true;
  } catch (const std::exception&) {
    // Not derivable: the metadata says so, and inference still works.
  }
  return spec;
}

/// The aggregate the checkpoint's metadata name, built through the registries (or, for a model trained
/// from TorchScript, from the archive the store keeps beside the checkpoint) and restored from it (as the
/// training job resumes), in evaluation.
Aggregate rebuild(const Checkpoint& checkpoint, const Registries& registries,
                  const std::filesystem::path& script) {
  std::error_code error;
  const Aggregate aggregate =
      std::filesystem::exists(script, error)
          ? rebuild_aggregate(checkpoint.info().metadata, registries,
                              load_script_model(script, "the store's TorchScript archive"))
          : rebuild_aggregate(checkpoint.info().metadata, registries);
  checkpoint.restore(aggregate);
  aggregate.set_phase(Phase::evaluation);
  return aggregate;
}

/// Appends the numbers of `data` (flat, or nested up to `depth` levels) to `out`, checked against
/// the datatype; refuses anything else.
template <class T>
void flatten(const Json& data, std::size_t depth, std::vector<T>& out, const std::string& input,
             std::int64_t limit) {
  if (data.is_array()) {
    if (depth == 0) bad_input(input, "\"data\" is nested deeper than its shape");
    for (const Json& item : data) flatten(item, depth - 1, out, input, limit);
    return;
  }
  if (static_cast<std::int64_t>(out.size()) >= limit)
    bad_input(input, "\"data\" holds more values than its shape");
  if constexpr (std::is_floating_point_v<T>) {
    if (!data.is_number())
      bad_input(input, "\"data\" holds " + std::string(data.type_name()) + ", not a number");
    const double value = data.get<double>();
    // JSON has no NaN or Infinity, and a model given one answers with them, which JSON cannot carry.
    if (!std::isfinite(value)) bad_input(input, "\"data\" holds " + dumps(data) + ", not a finite number");
    // A finite double beyond the type's range has no value there (and converting it is undefined).
    if (std::isfinite(value) && std::abs(value) > static_cast<double>(std::numeric_limits<T>::max()))
      bad_input(input, "\"data\" holds a value beyond the datatype's range");
    out.push_back(static_cast<T>(value));
  } else {
    if (!data.is_number_integer()) bad_input(input, "\"data\" holds a value that is not an integer");
    if (data.is_number_unsigned() &&
        data.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
      bad_input(input, "\"data\" holds an integer out of range");
    const std::int64_t value = data.get<std::int64_t>();
    if (value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max())
      bad_input(input, "\"data\" holds an integer out of range");
    out.push_back(static_cast<T>(value));
  }
}

template <class T>
torch::Tensor tensor_from(const Json& data, const std::vector<std::int64_t>& shape, std::int64_t count,
                          const std::string& input, torch::ScalarType type) {
  std::vector<T> values;
  values.reserve(static_cast<std::size_t>(count));
  flatten(data, shape.size(), values, input, count);
  if (static_cast<std::int64_t>(values.size()) != count)
    bad_input(input, "\"data\" holds " + std::to_string(values.size()) + " values; its shape needs " +
                         std::to_string(count));
  return torch::from_blob(values.data(), shape, torch::TensorOptions().dtype(type)).clone();
}

/// The request's one input, checked against the model's input in full before any tensor is made.
torch::Tensor read_input(const LoadedModel& model, const Json& request) {
  if (!request.is_object() || !request.contains("inputs") || !request["inputs"].is_array())
    throw ApiError(400, "invalid_request", "expected an object {\"inputs\": [...]}");
  const Json& inputs = request["inputs"];
  if (inputs.size() != 1)
    throw ApiError(
        400, "invalid_request",
        "the model takes one input, \"" + model.input.name + "\"; got " + std::to_string(inputs.size()));
  const Json& input = inputs[0];
  const std::string name = input.is_object() && input.contains("name") && input["name"].is_string()
                               ? input["name"].get<std::string>()
                               : std::string();
  if (name != model.input.name)
    throw ApiError(400, "invalid_tensor",
                   "the model's input is \"" + model.input.name + "\", not \"" + name + "\"",
                   {{"input", name}});
  if (!input.contains("datatype") || !input["datatype"].is_string()) bad_input(name, "no \"datatype\"");
  const std::string datatype = input["datatype"].get<std::string>();
  if (datatype != "FP32" && datatype != "FP64" && datatype != "INT32" && datatype != "INT64")
    bad_input(name, "datatype " + datatype + " is not one of FP32, FP64, INT32, INT64");
  if (model.input.known && datatype != model.input.datatype)
    bad_input(name, "datatype " + datatype + ", but the model takes " + model.input.datatype);

  if (!input.contains("shape") || !input["shape"].is_array() || input["shape"].empty() ||
      input["shape"].size() > max_rank)
    bad_input(name, "\"shape\" must be an array of 1 to " + std::to_string(max_rank) + " sizes");
  std::vector<std::int64_t> shape;
  std::int64_t count = 1;
  for (const Json& size : input["shape"]) {
    if (!size.is_number_integer() || size.get<std::int64_t>() < 0 || size.get<std::int64_t>() > max_elements)
      bad_input(name,
                "\"shape\" holds a size that is not an integer from 0 to " + std::to_string(max_elements));
    shape.push_back(size.get<std::int64_t>());
    count *= shape.back();
    if (count > max_elements)
      bad_input(name, "the shape holds more than " + std::to_string(max_elements) + " values");
  }
  if (model.input.known) {
    bool fits = shape.size() == model.input.shape.size();
    for (std::size_t i = 0; fits && i < shape.size(); ++i)
      fits = model.input.shape[i] < 0 || model.input.shape[i] == shape[i];
    if (!fits)
      bad_input(name, "shape " + Json(shape).dump() + " does not fit the model's " +
                          Json(model.input.shape).dump());
  }
  if (!input.contains("data")) bad_input(name, "no \"data\"");
  const Json& data = input["data"];
  if (datatype == "FP32") return tensor_from<float>(data, shape, count, name, torch::kFloat);
  if (datatype == "FP64") return tensor_from<double>(data, shape, count, name, torch::kDouble);
  if (datatype == "INT32") return tensor_from<std::int32_t>(data, shape, count, name, torch::kInt);
  return tensor_from<std::int64_t>(data, shape, count, name, torch::kLong);
}

template <class T>
Json values_of(const torch::Tensor& tensor) {
  const T* begin = tensor.data_ptr<T>();
  return Json(std::vector<T>(begin, begin + tensor.numel()));
}

Json output_json(torch::Tensor out, const TensorSpec& spec) {
  std::string datatype = datatype_of(out.scalar_type());
  if (datatype.empty()) {
    out = out.to(torch::kFloat);
    datatype = "FP32";
  }
  out = out.contiguous();
  // JSON has no NaN or infinity (nlohmann would write null): a 200 must not answer a number it lost.
  if (out.is_floating_point() && out.numel() > 0 && !torch::isfinite(out).all().item<bool>()) {
    const torch::Tensor flat = out.flatten();
    const std::int64_t first = torch::logical_not(torch::isfinite(flat)).nonzero()[0].item<std::int64_t>();
    const double value = flat[first].item<double>();
    const char* text = std::isnan(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    throw ApiError(500, "non_finite_output",
                   "the model's output \"" + spec.name + "\" holds a value JSON cannot carry (" + text +
                       " at element " + std::to_string(first) +
                       "): the model's weights or the input drive it out of range");
  }
  Json tensor = {{"name", spec.name},
                 {"datatype", datatype},
                 {"shape", Json(std::vector<std::int64_t>(out.sizes().begin(), out.sizes().end()))}};
  if (datatype == "FP32")
    tensor["data"] = values_of<float>(out);
  else if (datatype == "FP64")
    tensor["data"] = values_of<double>(out);
  else if (datatype == "INT32")
    tensor["data"] = values_of<std::int32_t>(out);
  else
    tensor["data"] = values_of<std::int64_t>(out);
  return tensor;
}

Json spec_json(const TensorSpec& spec) {
  return {{"name", spec.name}, {"datatype", spec.datatype}, {"shape", Json(spec.shape)}};
}

}  // namespace

ModelCache::ModelCache(std::filesystem::path store, const Registries& registries, std::size_t capacity,
                       LoadLimits limits)
    : store_(std::move(store)),
      registries_(registries),
      capacity_(std::max<std::size_t>(1, capacity)),
      limits_(limits) {}

std::shared_ptr<const LoadedModel> ModelCache::find(const std::string& name, const std::string& hash) {
  const std::lock_guard lock(mutex_);
  for (auto it = recent_.begin(); it != recent_.end(); ++it) {
    if ((*it)->name == name && (*it)->hash == hash) {
      recent_.splice(recent_.begin(), recent_, it);
      return recent_.front();
    }
  }
  return nullptr;
}

ModelCache::FileStamp ModelCache::stamp(const std::string& name, const std::string& hash) const {
  // The store alone knows its file layout; an identity that names no file has no stamp.
  if (!CheckpointStore::identity_fault(name, hash).empty()) return {};
  const std::filesystem::path path = CheckpointStore(store_).path_for(name, hash);
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) return {};
  return {static_cast<std::uint64_t>(status.st_dev), static_cast<std::uint64_t>(status.st_ino),
          static_cast<std::uint64_t>(status.st_size),
          std::int64_t{status.st_mtim.tv_sec} * 1'000'000'000 + status.st_mtim.tv_nsec};
}

const ModelCache::Failure* ModelCache::recent_failure(const std::string& key, const FileStamp& file) const {
  const auto found = failures_.find(key);
  if (found == failures_.end() || found->second.until < std::chrono::steady_clock::now() ||
      !(found->second.file == file))
    return nullptr;
  return &found->second;
}

bool ModelCache::would_load(const std::string& name, const std::string& hash) const {
  if (!CheckpointStore::identity_fault(name, hash).empty()) return false;  // a 400, answered at once
  const FileStamp file = stamp(name, hash);
  const std::lock_guard lock(mutex_);
  for (const auto& model : recent_)
    if (model->name == name && model->hash == hash) return false;
  return recent_failure(name + "-" + hash, file) == nullptr;
}

std::shared_ptr<const LoadedModel> ModelCache::get(const std::string& name, const std::string& hash) {
  if (auto found = find(name, hash)) return found;
  const std::string key = name + "-" + hash;
  const auto repeat_failure = [&] {
    const FileStamp file = stamp(name, hash);
    const std::lock_guard lock(mutex_);
    if (const Failure* failure = recent_failure(key, file)) {
      ++loads_["failed_cached"];
      throw failure->error;
    }
  };
  repeat_failure();
  const std::lock_guard loading(loading_);
  if (auto found = find(name, hash)) return found;  // loaded while this request waited
  repeat_failure();                                 // or failed while it waited
  const FileStamp file = stamp(name, hash);
  std::shared_ptr<const LoadedModel> loaded;
  try {
    loaded = load(name, hash);
  } catch (const ApiError& error) {
    if (error.status() < 409) throw;  // the key, a missing or foreign file: nothing was loaded
    constexpr std::size_t max_failures = 256;
    const std::lock_guard lock(mutex_);
    ++loads_["failed"];
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(failures_, [&](const auto& entry) { return entry.second.until < now; });
    if (failures_.size() >= max_failures) failures_.erase(failures_.begin());
    failures_.insert_or_assign(key, Failure{error, now + limits_.failure_ttl, file});
    throw;
  }
  const std::lock_guard lock(mutex_);
  ++loads_["loaded"];
  failures_.erase(key);
  recent_.push_front(loaded);
  if (recent_.size() > capacity_) recent_.pop_back();  // in-flight requests keep their own reference
  return loaded;
}

std::size_t ModelCache::size() const {
  const std::lock_guard lock(mutex_);
  return recent_.size();
}

std::map<std::string, std::uint64_t> ModelCache::loads() const {
  const std::lock_guard lock(mutex_);
  std::map<std::string, std::uint64_t> counts{{"loaded", 0}, {"failed", 0}, {"failed_cached", 0}};
  for (const auto& [outcome, count] : loads_) counts[outcome] = count;
  return counts;
}

std::shared_ptr<const LoadedModel> ModelCache::load(const std::string& name, const std::string& hash) const {
  // One open: the metadata say what to rebuild, and the same file restores it.
  const Checkpoint checkpoint = read_checkpoint(CheckpointStore(store_), name, hash);
  const CheckpointInfo& info = checkpoint.info();
  const Json& metadata = info.metadata;
  if (metadata["model"]["arguments"].is_null() || metadata["criterion"].is_null() ||
      metadata["optimizer"].is_null())
    throw ApiError(
        409, "model_unavailable",
        "the checkpoint has no metadata to rebuild its model from (saved by Python's torch.save alone)");
  auto model = std::make_shared<LoadedModel>();
  model->name = name;
  model->hash = hash;
  model->checkpoint = metadata;
  // The metadata decide what the rebuild allocates; the file's tensors, read before, say what it should:
  // a model as large as its tensors, twice over for what the restore copies, and room for temporaries.
  constexpr std::uint64_t room = std::uint64_t{64} << 20;
  const std::uint64_t tensors = checkpoint.tensor_bytes();
  const std::uint64_t cap = limits_.max_model_bytes;
  const std::uint64_t bound = cap <= room || tensors >= (cap - room) / 4 ? cap : 4 * tensors + room;
  try {
    const AllocationLimit limit(static_cast<std::size_t>(bound), "loading " + name + "-" + hash);
    model->aggregate =
        rebuild(checkpoint, registries_, CheckpointStore(store_).script_archive_for(name, hash));
  } catch (const AllocationLimitError& e) {
    throw ApiError(
        507, "too_large",
        std::string(e.what()) + "; its tensors take " + std::to_string(tensors) +
            " bytes, so its metadata ask for more than the file holds, or the model is larger than "
            "this server loads (--max-model-mb)");
  } catch (const IdentityError& e) {
    throw ApiError(500, "damaged_checkpoint", e.what());
  } catch (const UnknownNameError& e) {
    throw ApiError(409, "model_unavailable",
                   std::string(e.what()) + " (a plugin's model needs the server started with --plugin)");
  } catch (const CheckpointError& e) {
    throw ApiError(500, "damaged_checkpoint", store_message(e, store_));
  } catch (const Error& e) {
    throw ApiError(409, "model_unavailable",
                   "cannot rebuild the checkpoint's objects: " + std::string(e.what()));
  }
  const auto module = model->aggregate.model().module();
  model->input = module ? input_spec(*module) : TensorSpec{"input", "FP32", {-1}, false};
  model->output = output_spec(*model);
  return model;
}

Json model_metadata(const LoadedModel& model) {
  return {{"name", model.name},
          {"versions", Json::array({model.hash})},
          {"platform", "torchsystem_libtorch"},
          {"inputs", Json::array({spec_json(model.input)})},
          {"outputs", Json::array({spec_json(model.output)})},
          {"parameters",
           {{"arguments", model.checkpoint["model"]["arguments"]},
            {"epoch", model.checkpoint["epoch"]},
            {"input_shape_known", model.input.known},
            {"output_shape_known", model.output.known}}}};
}

Json infer(const LoadedModel& model, const Json& request) {
  const torch::Tensor input = read_input(model, request);
  torch::Tensor out;
  {
    const std::lock_guard lock(model.running);
    c10::InferenceMode inference;
    try {
      out = model.aggregate.model().forward(input);
    } catch (const std::exception& e) {
      bad_input(model.input.name, "the model cannot take it: " + detail::message_of(e));
    }
  }
  Json response = {{"model_name", model.name}, {"model_version", model.hash}};
  if (request.contains("id")) response["id"] = request["id"];
  response["outputs"] = Json::array({output_json(out, model.output)});
  return response;
}

}  // namespace torchsystem::server
