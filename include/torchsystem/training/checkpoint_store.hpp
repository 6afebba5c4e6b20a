// A checkpoint store keyed by identity: a training aggregate (model, criterion, optimizer, epoch and the
// metadata of each) saved under the model's `<name>-<hash>` in a directory, found again by identity.
//
//   CheckpointStore store("data/weights");
//   store.save({model, criterion, optimizer}, epoch, {{"history", history}});
//   //   -> data/weights/MLP-af51a51a38f7ad81f9523360fafe7068.pt   (tensors, optimizer state, metadata)
//   //      data/weights/MLP-af51a51a38f7ad81f9523360fafe7068.json (the metadata, readable)
//   if (auto found = store.load({model, criterion, optimizer})) resume_from(found->epoch);
//
// Tensors and optimizer state use LibTorch's serialization; the metadata is stored inside the archive
// (a lone file describes itself) and beside it as JSON. Saving is atomic: a temporary file in the same
// directory is written, flushed to disk and renamed over the old one, so a process killed mid-save
// leaves the previous checkpoint intact. Loading checks that the stored metadata equal the aggregate's
// (the same names and arguments, not only the same hash). Names become path components only after
// validation. Every failure is a CheckpointError naming the file; a damaged file is never overwritten
// or deleted by a load.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torchsystem/error.hpp"
#include "torchsystem/json.hpp"

namespace torchsystem {

/// What a training run saves and restores. Each object must be an entity (created through the library).
struct TrainingAggregate {
  std::shared_ptr<torch::nn::Module> model;
  std::shared_ptr<torch::nn::Module> criterion;
  std::shared_ptr<torch::optim::Optimizer> optimizer;
};

/// {"name": ..., "hash": ..., "arguments": {...}} of an entity (getname, gethash, getarguments).
Json entity_metadata(const std::shared_ptr<torch::nn::Module>& module);
Json entity_metadata(const std::shared_ptr<torch::optim::Optimizer>& optimizer);

/// One checkpoint as the store describes it.
struct CheckpointInfo {
  std::string name;         ///< the model's name
  std::string hash;         ///< the model's hash
  std::int64_t epoch = 0;   ///< the number of epochs completed when it was saved
  Json metadata;            ///< {"format", "model", "criterion", "optimizer", "epoch", "extra"}
  std::uintmax_t size = 0;  ///< the archive's size in bytes
  std::filesystem::file_time_type modified;  ///< the archive's last write time
  std::filesystem::path path;                ///< the archive (<directory>/<name>-<hash>.pt)
};

class CheckpointStore {
 public:
  /// A store on `directory`, created (with its parents) on the first save if it does not exist.
  explicit CheckpointStore(std::filesystem::path directory);

  const std::filesystem::path& directory() const noexcept { return directory_; }

  /// The archive for a model identity. Throws CheckpointError when `name` or `hash` cannot be a file
  /// name component: empty, `.` or `..`, or holding anything but ASCII letters, digits, `_`, `-`, `.`.
  std::filesystem::path path_for(std::string_view name, std::string_view hash) const;

  /// Saves the aggregate after `epoch` completed epochs under the model's identity, atomically;
  /// `extra` (any JSON, such as the loss history) is kept in the metadata. Returns what was saved.
  CheckpointInfo save(const TrainingAggregate& aggregate, std::int64_t epoch,
                      const Json& extra = Json::object()) const;

  /// Restores the checkpoint saved under the model's identity into the three objects and returns its
  /// description; nullopt when the store has none. Throws CheckpointError, before changing any object,
  /// when the file cannot be read or its metadata differ from the aggregate's.
  std::optional<CheckpointInfo> load(const TrainingAggregate& aggregate) const;

  /// Describes the checkpoint at `path` (an archive) from the metadata inside it.
  static CheckpointInfo inspect(const std::filesystem::path& path);

  /// Every checkpoint in the store, sorted by name then hash. Files that are not checkpoints (and
  /// temporary files of a save in progress) are skipped; a damaged checkpoint is a CheckpointError
  /// unless `skip_damaged`, which leaves it out and adds its error to `damaged`.
  std::vector<CheckpointInfo> list(bool skip_damaged = false,
                                   std::vector<std::string>* damaged = nullptr) const;

 private:
  std::filesystem::path directory_;
};

}  // namespace torchsystem
