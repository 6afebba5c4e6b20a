// The identity lock and the leftovers of killed saves (see identity_lock.hpp and store.hpp).
#include "torchsystem/checkpoint/identity_lock.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <system_error>

#include "checkpoint_file.hpp"
#include "file.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"

namespace torchsystem {
namespace {

namespace fs = std::filesystem;
using checkpoint_detail::Descriptor;
using checkpoint_detail::errno_text;
using checkpoint_detail::temporary_prefix;

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

/// The pid in a temporary file's name `.tmp-<pid>-<nonce>.<ext>`; 0 when there is none.
pid_t temporary_pid(std::string_view name) {
  if (!name.starts_with(temporary_prefix)) return 0;
  name.remove_prefix(temporary_prefix.size());
  long pid = 0;
  const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), pid);
  if (error != std::errc() || end == name.data() || *end != '-' || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

bool process_running(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

IdentityLock::IdentityLock(IdentityLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

IdentityLock& IdentityLock::operator=(IdentityLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

IdentityLock::~IdentityLock() {
  // Closing the last descriptor releases the flock. The file stays: removing it would let a waiter
  // lock the removed file while a newcomer locks a new one of the same name.
  if (fd_ >= 0) ::close(fd_);
}

std::filesystem::path CheckpointStore::lock_path_for(std::string_view name, std::string_view hash) const {
  fs::path path = path_for(name, hash);
  path.replace_extension(checkpoint_detail::lock_extension);
  return path;
}

std::optional<IdentityLock> CheckpointStore::try_lock(std::string_view name, std::string_view hash) const {
  const fs::path path = lock_path_for(name, hash);
  std::error_code error;
  if (!directory_.empty()) fs::create_directories(directory_, error);
  if (error) throw CheckpointError(directory_.string(), "cannot create the directory: " + error.message());
  // Never through a symbolic link, never blocking on a FIFO: the file is truncated and written below.
  Descriptor fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666));
  if (fd.get() < 0 && errno == ELOOP)
    throw ForeignFileError(path.string(),
                           "the lock file is a symbolic link, not a regular file of the store");
  if (fd.get() < 0 && (errno == EROFS || errno == EACCES || errno == EPERM)) {
    // Training writes the store: say so before anything is trained, naming the store.
    const int cause = errno;
    throw CheckpointError(directory_.string(), "the store is not writable (" + path.filename().string() + ": " +
                                                   errno_text(cause) + "); training saves into it");
  }
  if (fd.get() < 0) throw CheckpointError(path.string(), "cannot open the lock file: " + errno_text(errno));
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0)
    throw CheckpointError(path.string(), "cannot read the lock file's status: " + errno_text(errno));
  if (!S_ISREG(status.st_mode))
    throw ForeignFileError(path.string(), "the lock file is not a regular file of the store");
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return std::nullopt;
    throw CheckpointError(path.string(), "cannot lock: " + errno_text(errno));
  }
  // Who holds it, for the message of the job that finds it taken. Written after the lock is taken, so a
  // reader may briefly see it empty or the previous holder's.
  const Json holder = {{"pid", static_cast<std::int64_t>(::getpid())},
                       {"host", host_name()},
                       {"started", iso_utc(std::filesystem::file_time_type::clock::now())}};
  const std::string text = dumps(holder) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    throw CheckpointError(path.string(), "cannot write the lock's holder: " + errno_text(errno));
  return IdentityLock(fd.release(), path);
}

std::string CheckpointStore::lock_holder(std::string_view name, std::string_view hash) const {
  const fs::path path = lock_path_for(name, hash);
  Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  char buffer[1024];
  const ssize_t got = fd.get() < 0 ? -1 : ::pread(fd.get(), buffer, sizeof buffer, 0);
  try {
    const Json holder = parse_json(std::string_view(buffer, got > 0 ? static_cast<std::size_t>(got) : 0));
    return "pid " + dumps(holder.at("pid")) + " on host " + holder.at("host").get<std::string>() + " since " +
           holder.at("started").get<std::string>();
  } catch (const std::exception&) {
    return "a process that has not written its name in " + path.string();
  }
}

std::vector<std::filesystem::path> CheckpointStore::clean_temporaries() const {
  std::vector<fs::path> removed;
  std::error_code error;
  for (fs::directory_iterator it(directory_, error), end; !error && it != end; it.increment(error)) {
    const fs::path& file = it->path();
    const pid_t pid = temporary_pid(file.filename().string());
    std::error_code type_error;
    if (pid == 0 || !it->is_regular_file(type_error)) continue;
    // The writer holds the file's flock until it is renamed; the pid covers the moment between its
    // creation and its lock. Both must say the save is over.
    Descriptor fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0 || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
    if (process_running(pid)) continue;
    if (::unlink(file.c_str()) == 0) removed.push_back(file);
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace torchsystem
