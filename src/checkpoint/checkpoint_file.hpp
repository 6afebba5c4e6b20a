// One checkpoint file of the store: the names a file may have, and opening one: every byte or the
// metadata checked before anything is trusted, in either format (torch.save's `.pth`, the former `.pt`).
// Internal to the checkpoint library; CheckpointStore is its only user.
#pragma once

#include <sys/stat.h>

#include <torch/serialize/input-archive.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "file.hpp"
#include "pickle.hpp"
#include "torch_save.hpp"
#include "torchsystem/checkpoint/checkpoint_info.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/json.hpp"

namespace torchsystem::checkpoint_detail {

// Version 2 is torch.save's format (`.pth`); version 1 was LibTorch's archive (`.pt`), still read.
inline constexpr std::string_view format_name = "torchsystem-checkpoint/2";
inline constexpr std::string_view legacy_format_name = "torchsystem-checkpoint/1";
// What inspect() reports as the format of a file `torch.save` wrote without the store's metadata.
inline constexpr std::string_view python_format_name = "torch.save";
inline constexpr std::string_view extension = ".pth";
inline constexpr std::string_view legacy_extension = ".pt";
inline constexpr std::string_view sidecar_extension = ".json";
inline constexpr std::string_view lock_extension = ".lock";
/// A TorchScript model's archive, kept beside its checkpoint (no longer than the sidecar's extension).
inline constexpr std::string_view script_extension = ".jit";
inline constexpr std::size_t max_component_size = 200;
inline constexpr std::size_t max_file_name_size = 255;  // NAME_MAX of the usual Linux file systems

/// The three members of a checkpoint's metadata, in the order they are checked.
inline constexpr const char* members[] = {"model", "criterion", "optimizer"};

/// `value` in double quotes, printable ASCII as is and any other byte as \xNN, so that a name holding a
/// NUL byte, a newline or invalid UTF-8 still shows exactly in a message.
std::string quote_value(std::string_view value);

/// Why `value` cannot be a file name component, or an empty string when it can.
std::string component_fault(std::string_view value);

/// True when `stem` is `<name>-<hash>` for some valid name and hash.
bool is_identity_stem(std::string_view stem);

/// `<name>-<hash>` of a file name stem, split at the last '-' (a hash has none); nullopt if invalid.
std::optional<std::pair<std::string, std::string>> identity_of_stem(std::string_view stem);

/// A fault of the file's content; turned into "not a readable checkpoint: <reason>".
class Damaged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A checkpoint opened, verified and read, with its metadata checked: a `.pth` file (`file`) or an
/// archive of the former format (`archive`).
struct OpenedCheckpoint {
  bool legacy = false;
  torch::serialize::InputArchive archive;
  TorchSaveFile file;
  bool has_identity = true;  ///< false for a file torch.save wrote without the store's metadata
  Json metadata;
  /// The file, still open, when it was opened to read its storages later (`keep_open`): they are read
  /// from it, not from whatever has been renamed over its path since.
  Descriptor descriptor;
  std::size_t metadata_values = 0;  ///< how many JSON values `metadata` holds, for a listing's budget
  struct stat status {};
};

/// Opens the checkpoint at `path`; nullopt when it does not exist and `missing_ok`. A `.pt` file is
/// read as the former format, always in full; anything else as torch.save's, as much as `read` says.
/// The file is opened without following a symbolic link and without blocking: anything but a regular
/// file is a ForeignFileError. Every other fault is a CheckpointError naming the file.
/// The metadata may hold at most `metadata_values` JSON values; more is a MetadataLimitError. With
/// `keep_open`, a `.pth` file stays open in `descriptor` (read_storages reads it later).
std::optional<OpenedCheckpoint> open_checkpoint(const std::filesystem::path& path, bool missing_ok,
                                                TorchSaveRead read,
                                                std::size_t metadata_values = max_json_values,
                                                bool keep_open = false);

/// Metadata holding more JSON values than a reader allowed.
class MetadataLimitError : public CheckpointError {
 public:
  using CheckpointError::CheckpointError;
};

/// The description of an opened checkpoint.
CheckpointInfo describe(const std::filesystem::path& path, Json metadata, const struct stat& status);

/// The epoch of the checkpoint at `path` (or of the former format's beside it), from its metadata;
/// nullopt when there is none or it cannot be read (a damaged file may be replaced by a save).
std::optional<std::int64_t> saved_epoch(std::filesystem::path path);

}  // namespace torchsystem::checkpoint_detail
