// Inference on stored checkpoints: models rebuilt from a checkpoint's metadata and kept loaded (LRU),
// their OIP v2 metadata, and OIP v2 JSON tensors in and out. Internal to the server library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "torchsystem/json.hpp"
#include "torchsystem/torch/aggregate.hpp"
#include "torchsystem/torch/registries.hpp"

namespace torchsystem::server {

/// An OIP tensor's description. -1 in `shape` is a dimension of any size (the batch, at least).
struct TensorSpec {
  std::string name;
  std::string datatype;  ///< FP32, FP64, INT32, INT64
  std::vector<std::int64_t> shape;
  bool known = false;  ///< false: derived from no layer; the model alone checks what it is given
};

struct LoadedModel {
  std::string name;
  std::string hash;
  Json checkpoint;             ///< the checkpoint's metadata
  Aggregate aggregate;         ///< rebuilt from the checkpoint's metadata, its state restored, in evaluation
  mutable std::mutex running;  ///< one forward at a time: a plugin's model need not be reentrant
  TensorSpec input;
  TensorSpec output;
};

class ModelCache {
 public:
  ModelCache(std::filesystem::path store, const Registries& registries, std::size_t capacity);
  /// The model of checkpoint `name`-`hash`, loaded now if needed. Throws ApiError: 400/403/404 as
  /// find_checkpoint, 409 when the checkpoint cannot be rebuilt here (no metadata, a type no
  /// registry has), 500 when it is damaged.
  std::shared_ptr<const LoadedModel> get(const std::string& name, const std::string& hash);
  std::size_t size() const;

 private:
  std::shared_ptr<const LoadedModel> find(const std::string& name, const std::string& hash);
  std::shared_ptr<const LoadedModel> load(const std::string& name, const std::string& hash) const;

  std::filesystem::path store_;
  const Registries& registries_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::list<std::shared_ptr<const LoadedModel>> recent_;  // most recently used first
  std::mutex loading_;  // one load at a time: two requests for one model load it once
};

/// GET /v2/models/{name}/versions/{hash}: the model's OIP metadata.
Json model_metadata(const LoadedModel& model);
/// POST .../infer: runs `request` (an OIP inference request) through the model in eval and inference
/// mode. Throws ApiError 400 naming the input for any tensor that does not fit.
Json infer(const LoadedModel& model, const Json& request);

}  // namespace torchsystem::server
