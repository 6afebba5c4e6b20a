// Inference on stored checkpoints: models rebuilt from a checkpoint's metadata and kept loaded (LRU),
// their OIP v2 metadata, and OIP v2 JSON tensors in and out. Internal to the server library.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api_support.hpp"
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

/// What a ModelCache may spend on loads.
struct LoadLimits {
  /// The most a load (the rebuild from the metadata and the restore) may allocate, whatever the file.
  std::size_t max_model_bytes = std::size_t{8} << 30;
  /// How long a failed load is answered from memory, unless the file changes meanwhile.
  std::chrono::milliseconds failure_ttl{10'000};
};

class ModelCache {
 public:
  ModelCache(std::filesystem::path store, const Registries& registries, std::size_t capacity,
             LoadLimits limits = {});
  /// The model of checkpoint `name`-`hash`, loaded now if needed. Throws ApiError: 400/403/404 as
  /// find_checkpoint, 409 when the checkpoint cannot be rebuilt here (no metadata, a type no
  /// registry has), 500 when it is damaged, 507 when loading it would pass its memory bound. A load
  /// that failed (409, 500, 507) fails again from memory, without reading the file, for `failure_ttl`
  /// or until the file changes.
  std::shared_ptr<const LoadedModel> get(const std::string& name, const std::string& hash);
  /// Whether get() would load (a model neither loaded nor failed recently): such a request builds.
  bool would_load(const std::string& name, const std::string& hash) const;
  std::size_t size() const;
  /// Loads done, by outcome: {"loaded", "failed", "failed_cached"}.
  std::map<std::string, std::uint64_t> loads() const;

 private:
  /// What identifies the file a load read: a save renames a new one over it.
  struct FileStamp {
    std::uint64_t device = 0, inode = 0, size = 0;
    std::int64_t modified_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  struct Failure {
    ApiError error;
    std::chrono::steady_clock::time_point until;
    FileStamp file;
  };

  std::shared_ptr<const LoadedModel> find(const std::string& name, const std::string& hash);
  std::shared_ptr<const LoadedModel> load(const std::string& name, const std::string& hash) const;
  FileStamp stamp(const std::string& name, const std::string& hash) const;
  /// The failure to repeat for this identity, if any (mutex_ held).
  const Failure* recent_failure(const std::string& key, const FileStamp& file) const;

  std::filesystem::path store_;
  const Registries& registries_;
  std::size_t capacity_;
  LoadLimits limits_;
  mutable std::mutex mutex_;
  std::list<std::shared_ptr<const LoadedModel>> recent_;  // most recently used first
  std::map<std::string, Failure> failures_;               // by `<name>-<hash>`, at most max_failures
  std::map<std::string, std::uint64_t> loads_;
  std::mutex loading_;  // one load at a time: two requests for one model load it once
};

/// GET /v2/models/{name}/versions/{hash}: the model's OIP metadata.
Json model_metadata(const LoadedModel& model);
/// POST .../infer: runs `request` (an OIP inference request) through the model in eval and inference
/// mode. Throws ApiError 400 naming the input for any tensor that does not fit.
Json infer(const LoadedModel& model, const Json& request);

}  // namespace torchsystem::server
