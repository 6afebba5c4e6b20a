// `torch.save`'s zip container: `<archive>/data.pkl` (the pickle), one record `<archive>/data/<key>` of
// raw little-endian elements per storage, `<archive>/byteorder` and `<archive>/version`.
//
// Written through LibTorch's own zip writer (PyTorchStreamWriter, what `torch.save` uses: records stored
// uncompressed, aligned to 64 bytes). Read through libzip, which checks every record's CRC-32 while the
// bytes are read straight into the tensors; nothing is trusted before it is checked (pickle.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

#include "pickle.hpp"
#include "state_dict.hpp"

namespace torchsystem::checkpoint_detail {

/// A fault of the file's content (its reason only; the store names the file).
class ArchiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Writes the tree and its tensors; `sink` returns how many bytes it took (fewer on an error).
void write_torch_save(const PyTree& tree, const TensorTable& tensors,
                      const std::function<std::size_t(const void*, std::size_t)>& sink);

struct TorchSaveFile {
  PyTree tree;
  StorageTable storages;  ///< empty unless read with storages
};

/// How much of a file read_torch_save reads.
enum class TorchSaveRead {
  /// The zip central directory and the pickle only (its CRC-32 checked): what a listing needs. The
  /// storages' sizes come from the central directory; their bytes are neither read nor checked.
  metadata,
  /// Every record read to its end, so every CRC-32 is checked; the storages are not kept.
  verify,
  /// As `verify`, keeping the storages.
  storages,
};

/// Reads the file open at `fd` (of `size` bytes), as much as `read` says. Throws ArchiveError.
TorchSaveFile read_torch_save(int fd, std::uint64_t size, TorchSaveRead read);

/// Reads the storages of a file read with `metadata` (the same descriptor, so the same file whatever was
/// renamed over its path since), checking every record: what a load does once the pickle has been
/// checked against the aggregate, so that a file's tensors are allocated only when they fit it.
StorageTable read_storages(int fd, std::uint64_t size, const PyTree& tree);

/// The bytes the storages of a read pickle take, known before any is read.
std::uint64_t storage_bytes(const PyTree& tree);

}  // namespace torchsystem::checkpoint_detail
