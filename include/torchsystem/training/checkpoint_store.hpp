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
//
// At scale: one job writes an identity at a time (try_lock, an flock on `<name>-<hash>.lock` held until
// the job ends); a save never goes back to a lower epoch; list() reads each archive's central directory
// and metadata only, verify() every byte; clean_temporaries() removes what killed saves left.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

/// How much of each archive list() reads.
enum class CheckpointCheck {
  metadata,  ///< the zip central directory and the pickle (with its CRC-32): not the tensors' bytes
  full,      ///< every record to its end, every CRC-32 checked, as load() does
};

/// An exclusive lock on one identity of a store, held while the object lives. The kernel releases it
/// when the process ends in any way (SIGKILL included), so a crashed job never leaves its identity held.
class IdentityLock {
 public:
  IdentityLock(IdentityLock&& other) noexcept;
  IdentityLock& operator=(IdentityLock&& other) noexcept;
  IdentityLock(const IdentityLock&) = delete;
  IdentityLock& operator=(const IdentityLock&) = delete;
  ~IdentityLock();

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  friend class CheckpointStore;
  IdentityLock(int fd, std::filesystem::path path) noexcept : fd_(fd), path_(std::move(path)) {}

  int fd_ = -1;
  std::filesystem::path path_;
};

class CheckpointStore {
 public:
  /// A store on `directory`, created (with its parents) on the first save if it does not exist.
  explicit CheckpointStore(std::filesystem::path directory);

  const std::filesystem::path& directory() const noexcept { return directory_; }

  /// The archive for a model identity. Throws CheckpointError when `name` or `hash` cannot be a file
  /// name component: empty, `.` or `..`, or holding anything but ASCII letters, digits, `_`, `-`, `.`.
  std::filesystem::path path_for(std::string_view name, std::string_view hash) const;

  /// The lock file of an identity, beside its archive: `<directory>/<name>-<hash>.lock`.
  std::filesystem::path lock_path_for(std::string_view name, std::string_view hash) const;

  /// Takes the identity's lock without waiting (creating the directory if needed) and writes the
  /// holder (pid, host, start time) into the lock file; nullopt when another process holds it.
  std::optional<IdentityLock> try_lock(std::string_view name, std::string_view hash) const;

  /// Who holds the identity's lock, as its holder wrote it: `pid 1234 on host gpu-1 since
  /// 2026-12-04T07:00:00Z`, or a note that it is unknown.
  std::string lock_holder(std::string_view name, std::string_view hash) const;

  /// Saves the aggregate after `epoch` completed epochs under the model's identity, atomically;
  /// `extra` (any JSON, such as the loss history) is kept in the metadata. Returns what was saved.
  /// A checkpoint of a higher epoch already there is never replaced: that is a CheckpointError.
  CheckpointInfo save(const TrainingAggregate& aggregate, std::int64_t epoch,
                      const Json& extra = Json::object()) const;

  /// Restores the checkpoint saved under the model's identity into the three objects and returns its
  /// description; nullopt when the store has none. Throws CheckpointError, before changing any object,
  /// when the file cannot be read or its metadata differ from the aggregate's.
  std::optional<CheckpointInfo> load(const TrainingAggregate& aggregate) const;

  /// Describes the checkpoint at `path` (an archive) from the metadata inside it, after reading and
  /// checking every record (`check` full) or its central directory and metadata only.
  static CheckpointInfo inspect(const std::filesystem::path& path,
                                CheckpointCheck check = CheckpointCheck::full);

  /// Every checkpoint in the store, sorted by name then hash. Files that are not checkpoints (and
  /// temporary files of a save in progress) are skipped; a damaged checkpoint is a CheckpointError
  /// unless `skip_damaged`, which leaves it out and adds its error to `damaged`. By default only the
  /// metadata are read: damage inside the tensors' bytes is found by `CheckpointCheck::full` (and by
  /// every load).
  std::vector<CheckpointInfo> list(bool skip_damaged = false, std::vector<std::string>* damaged = nullptr,
                                   CheckpointCheck check = CheckpointCheck::metadata) const;

  /// Removes the temporary files (`.tmp-<pid>-*`) of saves whose process is gone; returns their paths.
  /// A file is removed only when no process holds its lock and its pid is not running on this host,
  /// so a save in progress is never touched.
  std::vector<std::filesystem::path> clean_temporaries() const;

 private:
  std::filesystem::path directory_;
};

}  // namespace torchsystem
