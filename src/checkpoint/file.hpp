// POSIX file I/O of the checkpoint layer: the descriptor and positioned reads of src/common/descriptor.hpp,
// and the atomic write (a temporary file flushed and renamed over its target). Internal to the checkpoint
// library.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "../common/descriptor.hpp"

namespace torchsystem::checkpoint_detail {

using detail::Descriptor;
using detail::read_at;

/// The prefix of a save's temporary file: `.tmp-<pid>-<nonce><extension>` beside its target.
inline constexpr std::string_view temporary_prefix = ".tmp-";

/// The text of an errno value.
std::string errno_text(int error);

/// A file's last write time from its status.
std::filesystem::file_time_type file_time(const struct stat& status);

/// A file being written: the bytes go to a temporary file in the target's directory, which commit()
/// flushes to disk and renames over the target. Destroyed before commit(), it removes the temporary file.
/// Every failure is a CheckpointError naming the target.
class AtomicFile {
 public:
  AtomicFile(const std::filesystem::path& target, std::string_view extension);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  /// Writes all of `size` bytes; on an error returns fewer and remembers it (see error()).
  std::size_t write(const void* data, std::size_t size) noexcept;

  int error() const noexcept { return error_; }
  const std::filesystem::path& temporary() const noexcept { return temporary_; }

  /// Throws CheckpointError naming the target: `what` and the errno text.
  [[noreturn]] void fail(const std::string& what, int error) const;

  /// Flushes the file to disk, renames it over the target and flushes the directory. Returns the
  /// file's status as written.
  struct stat commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temporary_;
  int fd_ = -1;
  int error_ = 0;
  bool committed_ = false;
};

}  // namespace torchsystem::checkpoint_detail
