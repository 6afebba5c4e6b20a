// A checkpoint store keyed by identity: an Aggregate (model, criterion, optimizer, epoch and the identity
// of each) saved under its model's `<name>-<hash>` in a directory, found again by identity.
//
//   CheckpointStore store("data/weights");
//   aggregate.set_epoch(3);
//   store.save(aggregate, {{"history", history}});
//   //   -> data/weights/MLP-af51a51a38f7ad81f9523360fafe7068.pth   (torch.save's format, Python reads it)
//   //      data/weights/MLP-af51a51a38f7ad81f9523360fafe7068.json  (the metadata, readable)
//   if (auto found = store.load(aggregate)) resume_after(aggregate.epoch());
//   if (auto info = store.find("MLP", hash)) ...;   // its description, by identity
//
// The store alone knows its file layout: callers name identities, never files. Saving is atomic: a
// temporary file in the same directory is written, flushed to disk and renamed over the old one, so a
// process killed mid-save leaves the previous checkpoint intact. Loading checks that the stored identities
// equal the aggregate's (the same names and arguments, not only the same hash) and every tensor's name,
// shape and type, and changes nothing on a fault. Names become path components only after validation;
// no symbolic link is followed and nothing that is not a regular file is read. Every failure is a
// CheckpointError naming the file; a damaged file is never overwritten or deleted by a load.
//
// At scale: one job writes an identity at a time (try_lock, an flock on `<name>-<hash>.lock` held until
// the job ends); a save never goes back to a lower epoch; list() reads each archive's central directory
// and metadata only (CheckpointCheck::metadata), or every byte (CheckpointCheck::full);
// clean_temporaries() removes what killed saves left. docs/checkpoints.md has the format.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torchsystem/checkpoint/checkpoint_info.hpp"
#include "torchsystem/checkpoint/identity_lock.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/json.hpp"
#include "torchsystem/torch/aggregate.hpp"

namespace torchsystem {

/// {"name": ..., "hash": ..., "arguments": {...}} of an entity (getname, gethash, getarguments).
Json entity_metadata(const std::shared_ptr<torch::nn::Module>& module);
Json entity_metadata(const std::shared_ptr<torch::optim::Optimizer>& optimizer);

/// How much of each archive is read.
enum class CheckpointCheck {
  metadata,  ///< the zip central directory and the pickle (with its CRC-32): not the tensors' bytes
  full,      ///< every record to its end, every CRC-32 checked, as load() does
};

/// One page of a store's listing, and the bound on what reading it may hold.
struct ListOptions {
  std::size_t offset = 0;  ///< checkpoint files skipped, in the listing's order
  std::size_t limit = std::numeric_limits<std::size_t>::max();  ///< checkpoint files read at most
  CheckpointCheck check = CheckpointCheck::metadata;
  /// Leave a damaged checkpoint out (its error in `CheckpointPage::damaged`) rather than throw.
  bool skip_damaged = false;
  /// The JSON values the page's metadata may hold together (a file's own are capped at a million): a
  /// checkpoint whose metadata would go past what is left is left out as damaged, with a message that says
  /// so, so that files crafted to expand (a list shared a million times) cannot exhaust memory.
  std::size_t metadata_values = 4'000'000;
};

/// What a listing found: the page's checkpoints, the errors of its damaged files (store files that are
/// not readable checkpoints, each CheckpointError naming its file), and how many checkpoint files the
/// store holds in all, read or not.
struct CheckpointPage {
  std::vector<CheckpointInfo> checkpoints;
  std::vector<CheckpointError> damaged;
  std::size_t total = 0;
};

namespace checkpoint_detail {
struct OpenedCheckpoint;
}

/// A checkpoint opened once: its description, read now, and its tensors, read by restore() from the same
/// open file (whatever is renamed over its path meanwhile) once the pickle has been checked against the
/// aggregate, so a file's tensors are allocated only when they fit it. What the server does with it:
/// rebuild the aggregate its metadata name, then restore it. Not for concurrent restores.
class Checkpoint {
 public:
  const CheckpointInfo& info() const noexcept { return info_; }
  /// The bytes the file's tensors take (model, criterion and optimizer state), known before they are
  /// read: what a rebuild from the metadata should allocate at most, give or take its temporaries.
  std::uint64_t tensor_bytes() const;
  /// Restores the tensors, the optimizer's state and the epoch into `aggregate`, whose identities must
  /// be the checkpoint's. Throws CheckpointError, before changing anything, when they differ or any
  /// tensor does not fit: names, shapes and types of the model's and the criterion's tensors, and the
  /// bytes of all the file's storages against what the aggregate's state can take, are checked before
  /// a tensor of the file is allocated.
  void restore(const Aggregate& aggregate) const;

 private:
  friend class CheckpointStore;
  Checkpoint(CheckpointInfo info, std::shared_ptr<checkpoint_detail::OpenedCheckpoint> content);

  CheckpointInfo info_;
  std::shared_ptr<checkpoint_detail::OpenedCheckpoint> content_;
};

class CheckpointStore {
 public:
  /// A store on `directory`, created (with its parents) on the first save if it does not exist.
  explicit CheckpointStore(std::filesystem::path directory);

  const std::filesystem::path& directory() const noexcept { return directory_; }

  /// Why `name` and `hash` cannot name a checkpoint of any store, or an empty string when they can: a
  /// name or hash is ASCII letters, digits, `_`, `-` and `.`, neither empty nor `.` or `..`.
  static std::string identity_fault(std::string_view name, std::string_view hash);

  /// The archive an identity is saved to. Throws CheckpointError when identity_fault() finds one.
  std::filesystem::path path_for(std::string_view name, std::string_view hash) const;

  /// Where the store keeps the TorchScript archive of an identity trained from one
  /// (torchsystem/torch/script_model.hpp): beside its checkpoint, `<directory>/<name>-<hash>.jit`, so that
  /// the store alone rebuilds the model (a store copied to another machine still serves it).
  std::filesystem::path script_archive_for(std::string_view name, std::string_view hash) const;

  /// Copies `archive` to script_archive_for(name, hash), atomically, unless the same bytes are there.
  /// Throws CheckpointError naming the file that cannot be read or written.
  void keep_script_archive(std::string_view name, std::string_view hash,
                           const std::filesystem::path& archive) const;

  /// The lock file of an identity, beside its archive: `<directory>/<name>-<hash>.lock`.
  std::filesystem::path lock_path_for(std::string_view name, std::string_view hash) const;

  /// Takes the identity's lock without waiting (creating the directory if needed) and writes the
  /// holder (pid, host, start time) into the lock file; nullopt when another process holds it.
  std::optional<IdentityLock> try_lock(std::string_view name, std::string_view hash) const;

  /// Who holds the identity's lock, as its holder wrote it: `pid 1234 on host gpu-1 since
  /// 2026-12-04T07:00:00Z`, or a note that it is unknown.
  std::string lock_holder(std::string_view name, std::string_view hash) const;

  /// Saves the aggregate at its epoch under its model's identity, atomically; `extra` (any JSON, such as
  /// the loss history) is kept in the metadata. Returns what was saved. A checkpoint of a higher epoch
  /// already there is never replaced: that is a CheckpointError.
  CheckpointInfo save(const Aggregate& aggregate, const Json& extra = Json::object()) const;

  /// Restores the checkpoint saved under the aggregate's identity into it (its epoch included) and
  /// returns its description; nullopt when the store has none. Throws CheckpointError, before changing
  /// anything, when the file cannot be read or its identities differ from the aggregate's.
  std::optional<CheckpointInfo> load(const Aggregate& aggregate) const;

  /// The checkpoint of an identity, described from the file (read as `check` says); nullopt when the
  /// store has none. Either format is found. Throws CheckpointError for an identity that cannot name a
  /// file, a damaged file or one that holds another identity than its name says, and ForeignFileError
  /// for one that is not a regular file of the store.
  std::optional<CheckpointInfo> find(std::string_view name, std::string_view hash,
                                     CheckpointCheck check = CheckpointCheck::full) const;

  /// The checkpoint of an identity, opened for a restore (its metadata and pickle read and checked, its
  /// tensors left for restore()); nullopt when the store has none. Throws as find().
  std::optional<Checkpoint> read(std::string_view name, std::string_view hash) const;

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

  /// A page of the listing: the store's checkpoint files are found and ordered by the identity their
  /// names say (name, then hash) without reading them, and only the page's files are read, so a listing
  /// costs what its page holds, not what the store holds. `list()` is the one page of every file.
  CheckpointPage list(const ListOptions& options) const;

  /// Removes the temporary files (`.tmp-<pid>-*`) of saves whose process is gone; returns their paths.
  /// A file is removed only when no process holds its lock and its pid is not running on this host,
  /// so a save in progress is never touched.
  std::vector<std::filesystem::path> clean_temporaries() const;

 private:
  std::filesystem::path directory_;
};

}  // namespace torchsystem
