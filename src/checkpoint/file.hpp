// POSIX file I/O of the checkpoint layer: a descriptor that closes itself, positioned reads, and the
// atomic write (a temporary file flushed and renamed over its target). Internal to the checkpoint library.
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

namespace torchsystem::checkpoint_detail {

/// The prefix of a save's temporary file: `.tmp-<pid>-<nonce><extension>` beside its target.
inline constexpr std::string_view temporary_prefix = ".tmp-";

/// The text of an errno value.
std::string errno_text(int error);

/// A file descriptor closed on destruction.
class Descriptor {
 public:
  explicit Descriptor(int fd = -1) noexcept : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Descriptor(Descriptor&& other) noexcept : fd_(other.release()) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = other.release();
    }
    return *this;
  }
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  /// Gives up ownership: the caller closes the descriptor.
  int release() noexcept { return std::exchange(fd_, -1); }
  /// Closes now; returns 0 or the errno of close().
  int close() noexcept {
    const int fd = std::exchange(fd_, -1);
    return fd >= 0 && ::close(fd) != 0 ? errno : 0;
  }

 private:
  int fd_;
};

/// A file's last write time from its status.
std::filesystem::file_time_type file_time(const struct stat& status);

/// Reads exactly `size` bytes at `offset`; false at end of file. Throws std::system_error on a read error.
bool read_at(int fd, void* buffer, std::size_t size, std::uint64_t offset);

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
