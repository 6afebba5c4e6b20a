// POSIX file I/O of the checkpoint layer (see file.hpp).
#include "file.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <system_error>

#include "torchsystem/error.hpp"

namespace torchsystem::checkpoint_detail {

namespace fs = std::filesystem;

std::string errno_text(int error) {
  return std::generic_category().message(error);
}

fs::file_time_type file_time(const struct stat& status) {
  const auto since_epoch =
      std::chrono::seconds(status.st_mtim.tv_sec) + std::chrono::nanoseconds(status.st_mtim.tv_nsec);
  return std::chrono::file_clock::from_sys(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch)));
}

AtomicFile::AtomicFile(const fs::path& target, std::string_view extension) : target_(target) {
  static std::atomic<std::uint64_t> counter{0};
  std::random_device random;
  for (int attempt = 0;; ++attempt) {
    const std::uint64_t nonce = (std::uint64_t{random()} << 32) ^ random() ^ counter.fetch_add(1);
    char unique[64];
    std::snprintf(unique, sizeof unique, "%ld-%016llx", static_cast<long>(::getpid()),
                  static_cast<unsigned long long>(nonce));
    temporary_ = target.parent_path() / (std::string(temporary_prefix) + unique + std::string(extension));
    const int fd = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      fd_ = fd;
      // Held until the file is renamed or removed: clean_temporaries() never takes a live save's file.
      // Where the file system has no flock (ENOLCK), the cleaner cannot take it either.
      ::flock(fd_, LOCK_EX | LOCK_NB);
      break;
    }
    if (errno != EEXIST || attempt == 100)
      fail("cannot create the temporary file " + temporary_.string(), errno);
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temporary_.empty()) ::unlink(temporary_.c_str());
}

std::size_t AtomicFile::write(const void* data, std::size_t size) noexcept {
  if (error_ != 0) return 0;
  const auto* in = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t wrote = ::write(fd_, in + done, size - done);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      error_ = errno;
      break;
    }
    done += static_cast<std::size_t>(wrote);
  }
  return done;
}

void AtomicFile::fail(const std::string& what, int error) const {
  throw CheckpointError(target_.string(), "cannot save: " + what + ": " + errno_text(error));
}

struct stat AtomicFile::commit() {
  if (error_ != 0) fail("cannot write " + temporary_.string(), error_);
  if (::fsync(fd_) != 0) fail("cannot flush " + temporary_.string() + " to disk", errno);
  struct stat status {};
  if (::fstat(fd_, &status) != 0) fail("cannot read the status of " + temporary_.string(), errno);
  // Renamed while still open, so its lock covers it until it no longer has a temporary name.
  if (::rename(temporary_.c_str(), target_.c_str()) != 0)
    fail("cannot rename " + temporary_.string() + " to " + target_.filename().string(), errno);
  committed_ = true;
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail("cannot close " + target_.string(), errno);
  // The rename is durable only once the directory entry is on disk.
  const fs::path directory = target_.parent_path().empty() ? fs::path(".") : target_.parent_path();
  Descriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) fail("cannot open the directory to flush it", errno);
  if (::fsync(dir.get()) != 0 && errno != EINVAL) fail("cannot flush the directory to disk", errno);
  if (const int error = dir.close(); error != 0) fail("cannot close the directory", error);
  return status;
}

}  // namespace torchsystem::checkpoint_detail
