// The lock that makes one job the only writer of an identity in a store: an flock on
// `<store>/<name>-<hash>.lock`, held while the object lives (CheckpointStore::try_lock takes it).
#pragma once

#include <filesystem>
#include <utility>

namespace torchsystem {

/// An exclusive lock on one identity of a store. The kernel releases it when the process ends in any way
/// (SIGKILL included), so a crashed job never leaves its identity held.
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

}  // namespace torchsystem
