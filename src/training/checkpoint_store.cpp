// The checkpoint store: archives named by identity, written atomically, checked before they are loaded.
//
// File layout, the metadata format and the guarantees are described in docs/checkpoints.md.
#include "torchsystem/training/checkpoint_store.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <caffe2/serialize/versions.h>
#include <torch/serialize/input-archive.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <random>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "archive_pickle.hpp"
#include "archive_source.hpp"
#include "state_dict.hpp"
#include "torch_save.hpp"
#include "torchsystem/entity.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "training_support.hpp"
#include "zip_support.hpp"

namespace torchsystem {
namespace {

namespace fs = std::filesystem;
using training_detail::message_of;
using training_detail::zip_error_text;
using training_detail::ZipCloser;
using training_detail::ZipFileCloser;

// Version 2 is torch.save's format (`.pth`); version 1 was LibTorch's archive (`.pt`), still read.
constexpr std::string_view format_name = "torchsystem-checkpoint/2";
constexpr std::string_view legacy_format_name = "torchsystem-checkpoint/1";
// What inspect() reports as the format of a file `torch.save` wrote without the store's metadata.
constexpr std::string_view python_format_name = "torch.save";
constexpr std::string_view extension = ".pth";
constexpr std::string_view legacy_extension = ".pt";
constexpr std::size_t max_component_size = 200;
constexpr std::size_t max_file_name_size = 255;  // NAME_MAX of the usual Linux file systems
constexpr std::string_view temporary_prefix = ".tmp-";
constexpr std::string_view lock_extension = ".lock";

std::string errno_text(int error) {
  return std::generic_category().message(error);
}

/// `value` in double quotes, printable ASCII as is and any other byte as \xNN, so that a name holding a
/// NUL byte, a newline or invalid UTF-8 still shows exactly in a message.
std::string quote_value(std::string_view value) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += c;
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += digits[byte >> 4];
      out += digits[byte & 0xf];
    }
  }
  return out + "\"";
}

bool valid_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';
}

/// Why `value` cannot be a file name component, or an empty string when it can.
std::string component_fault(std::string_view value) {
  if (value.empty()) return "is empty";
  if (value == "." || value == "..") return "is a relative directory name";
  if (value.size() > max_component_size)
    return "is longer than " + std::to_string(max_component_size) + " bytes";
  if (!std::all_of(value.begin(), value.end(), valid_character))
    return "holds characters other than ASCII letters, digits, '_', '-' and '.'";
  return {};
}

/// True when `stem` is `<name>-<hash>` for some valid name and hash.
bool is_identity_stem(std::string_view stem) {
  for (std::size_t dash = stem.find('-'); dash != std::string_view::npos; dash = stem.find('-', dash + 1)) {
    if (component_fault(stem.substr(0, dash)).empty() && component_fault(stem.substr(dash + 1)).empty())
      return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// Files.

/// A file descriptor closed on destruction.
class Descriptor {
 public:
  explicit Descriptor(int fd = -1) noexcept : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
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

fs::file_time_type file_time(const struct stat& status) {
  const auto since_epoch =
      std::chrono::seconds(status.st_mtim.tv_sec) + std::chrono::nanoseconds(status.st_mtim.tv_nsec);
  return std::chrono::file_clock::from_sys(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch)));
}

/// Reads exactly `size` bytes at `offset`; false at end of file. Throws std::system_error on a read error.
bool read_at(int fd, void* buffer, std::size_t size, std::uint64_t offset) {
  auto* out = static_cast<char*>(buffer);
  while (size > 0) {
    const ssize_t got = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "read error");
    }
    if (got == 0) return false;
    out += got;
    size -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return true;
}

/// A file being written: the bytes go to a temporary file in the target's directory, which commit()
/// flushes to disk and renames over the target. Destroyed before commit(), it removes the temporary file.
class AtomicFile {
 public:
  AtomicFile(const fs::path& target, std::string_view extension) : target_(target) {
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
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temporary_.empty()) ::unlink(temporary_.c_str());
  }

  /// Writes all of `size` bytes; on an error returns fewer and remembers it (see error()).
  std::size_t write(const void* data, std::size_t size) noexcept {
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

  int error() const noexcept { return error_; }
  const fs::path& temporary() const noexcept { return temporary_; }

  /// Throws CheckpointError naming the target: `what` and the errno text.
  [[noreturn]] void fail(const std::string& what, int error) const {
    throw CheckpointError(target_.string(), "cannot save: " + what + ": " + errno_text(error));
  }

  /// Flushes the file to disk, renames it over the target and flushes the directory. Returns the
  /// file's status as written.
  struct stat commit() {
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

 private:
  fs::path target_;
  fs::path temporary_;
  int fd_ = -1;
  int error_ = 0;
  bool committed_ = false;
};

// ---------------------------------------------------------------------------------------------------------
// Verifying the zip container. LibTorch writes archives as zip files whose records carry a CRC-32, but
// LibTorch 1.13 does not check them when it reads: a flipped byte in a tensor would load silently. So
// libzip reads every record first; it checks the container's consistency and each record's CRC-32.

/// A fault of the file's content; turned into "not a readable checkpoint: <reason>".
class Damaged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// LibTorch's unpickler trusts the numbers in a pickle (archive_pickle.hpp). A pickle `<dir>/<name>.pkl`
/// finds the data of its storage `key` in the record `<dir>/<name>/<key>`.
void check_pickles(const std::vector<std::pair<std::string, std::string>>& pickles,
                   const std::unordered_map<std::string, std::uint64_t>& record_sizes) {
  for (const auto& [record, pickle] : pickles) {
    const std::string directory = record.substr(0, record.rfind('.')) + "/";
    const auto storage_record_size = [&](std::string_view key) -> std::optional<std::uint64_t> {
      const auto found = record_sizes.find(directory + std::string(key));
      if (found == record_sizes.end()) return std::nullopt;
      return found->second;
    };
    if (const std::string fault = training_detail::pickle_fault(pickle, storage_record_size); !fault.empty())
      throw Damaged("record '" + record + "' is a pickle LibTorch cannot read safely (" + fault + ")");
  }
}

void verify_zip(int fd, std::uint64_t size) {
  if (size < 22) throw Damaged("not a LibTorch archive (" + std::to_string(size) + " bytes)");
  // libzip owns (and closes) the descriptor it is given; the caller keeps reading through its own.
  const int copy = ::dup(fd);
  if (copy < 0) throw Damaged(std::string("cannot read it: ") + std::strerror(errno));
  int code = 0;
  std::unique_ptr<zip_t, ZipCloser> archive(zip_fdopen(copy, ZIP_CHECKCONS, &code));
  if (!archive) {
    ::close(copy);
    throw Damaged("not a LibTorch archive (" + zip_error_text(code) + ")");
  }
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  if (entries <= 0) throw Damaged("not a LibTorch archive (an empty zip file)");
  // LibTorch 1.13's reader leaks its zip state (about 18 KB) when it refuses an archive while opening
  // it: the records not in the first record's directory, or a missing, unreadable or unsupported
  // `version` record. So those are checked here first, as strictly, and LibTorch never sees them.
  const char* first = zip_get_name(archive.get(), 0, 0);
  const std::string_view first_name = first ? first : "";
  const auto slash = first_name.find('/');
  if (slash == std::string_view::npos)
    throw Damaged("not a LibTorch archive (its first record is not in a directory)");
  const std::string version_records[] = {std::string(first_name.substr(0, slash + 1)) + ".data/version",
                                         std::string(first_name.substr(0, slash + 1)) + "version"};
  std::string version;
  bool has_version = false;
  std::unordered_map<std::string, std::uint64_t> record_sizes;
  std::vector<std::pair<std::string, std::string>> pickles;  // name, content
  std::vector<char> buffer(1 << 20);
  for (zip_uint64_t index = 0; index < static_cast<zip_uint64_t>(entries); ++index) {
    const char* name = zip_get_name(archive.get(), index, 0);
    const std::string record = name ? name : "#" + std::to_string(index);
    std::unique_ptr<zip_file_t, ZipFileCloser> file(zip_fopen_index(archive.get(), index, 0));
    if (!file) {
      throw Damaged("record '" + record + "' is damaged (" + zip_strerror(archive.get()) + ")");
    }
    // LibTorch reads `.data/version` when there is one, else `version`.
    const bool is_version = record == version_records[0] || (record == version_records[1] && !has_version);
    if (is_version) version.clear();
    const bool is_source = record.ends_with(".py");
    const bool is_pickle = record.ends_with(".pkl") || record.ends_with(".debug_pkl");
    std::string text;  // a source or a pickle, checked below
    std::uint64_t record_size = 0;
    // Reading to the end is what makes libzip compare the record's CRC-32.
    for (zip_int64_t got; (got = zip_fread(file.get(), buffer.data(), buffer.size())) != 0;) {
      if (got < 0)
        throw Damaged("record '" + record + "' is corrupted (" + zip_file_strerror(file.get()) + ")");
      record_size += static_cast<std::uint64_t>(got);
      if (is_version && version.size() < 64) version.append(buffer.data(), static_cast<std::size_t>(got));
      if (is_source || is_pickle) text.append(buffer.data(), static_cast<std::size_t>(got));
    }
    has_version |= is_version;
    record_sizes[record] = record_size;
    // LibTorch compiles the source while it reads the archive, and its compiler crashes on some.
    if (const std::string fault = is_source ? training_detail::attribute_source_fault(text) : "";
        !fault.empty())
      throw Damaged("record '" + record + "' holds source the store never writes (" + fault + ")");
    if (is_pickle) pickles.emplace_back(record, std::move(text));
  }
  check_pickles(pickles, record_sizes);
  if (!has_version) throw Damaged("not a LibTorch archive (it has no version record)");
  // LibTorch writes the version as decimal digits and a line break.
  std::string_view digits = version;
  if (digits.ends_with('\n')) digits.remove_suffix(1);
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
      number < caffe2::serialize::kMinSupportedFileFormatVersion ||
      number > caffe2::serialize::kMaxSupportedFileFormatVersion)
    throw Damaged("not a LibTorch archive this LibTorch reads (its version record is " +
                  quote_value(version.substr(0, 32)) + ")");
}

// ---------------------------------------------------------------------------------------------------------
// Metadata.

/// Python's json.dumps(value, indent=2): the readable sidecar.
void pretty_append(std::string& out, const Json& value, std::size_t depth) {
  const auto indent = [&](std::size_t level) { out.append("\n").append(2 * level, ' '); };
  if (value.is_object() && !value.empty()) {
    out += '{';
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first) out += ',';
      first = false;
      indent(depth + 1);
      dumps_append(out, Json(key));
      out += ": ";
      pretty_append(out, item, depth + 1);
    }
    indent(depth);
    out += '}';
  } else if (value.is_array() && !value.empty()) {
    out += '[';
    bool first = true;
    for (const auto& item : value) {
      if (!first) out += ',';
      first = false;
      indent(depth + 1);
      pretty_append(out, item, depth + 1);
    }
    indent(depth);
    out += ']';
  } else {
    dumps_append(out, value);
  }
}

constexpr const char* members[] = {"model", "criterion", "optimizer"};

/// Checks the shape of the metadata read from an archive; throws Damaged.
void check_metadata(const Json& metadata, std::string_view format_name) {
  if (!metadata.is_object()) throw Damaged("its metadata are not a JSON object");
  const auto format = metadata.find("format");
  if (format == metadata.end() || !format->is_string())
    throw Damaged("its metadata have no \"format\" (not a torchsystem checkpoint)");
  if (format->get_ref<const std::string&>() != format_name)
    throw Damaged("its format is " + dumps(*format) + ", not \"" + std::string(format_name) +
                  "\" (written by another version of torchsystem?)");
  for (const char* member : members) {
    const auto found = metadata.find(member);
    if (found == metadata.end() || !found->is_object() || !found->contains("name") ||
        !(*found)["name"].is_string() || !found->contains("hash") || !(*found)["hash"].is_string() ||
        !found->contains("arguments") || !(*found)["arguments"].is_object())
      throw Damaged(std::string("its metadata have no valid \"") + member +
                    "\" ({\"name\": ..., \"hash\": ..., \"arguments\": {...}})");
  }
  const auto epoch = metadata.find("epoch");
  if (epoch == metadata.end() || !epoch->is_number_integer() ||
      (epoch->is_number_unsigned() && epoch->get<std::uint64_t>() > std::uint64_t{INT64_MAX}))
    throw Damaged("its metadata have no integer \"epoch\"");
  if (!metadata.contains("extra")) throw Damaged("its metadata have no \"extra\"");
}

/// A checkpoint opened, verified and read, with its metadata checked: a `.pth` file (`file`) or an
/// archive of the former format (`archive`).
struct OpenedCheckpoint {
  bool legacy = false;
  torch::serialize::InputArchive archive;
  training_detail::TorchSaveFile file;
  bool has_identity = true;  ///< false for a file torch.save wrote without the store's metadata
  Json metadata;
  struct stat status {};
};

/// `<name>-<hash>` of a file name stem, split at the last '-' (a hash has none); nullopt if invalid.
std::optional<std::pair<std::string, std::string>> identity_of_stem(std::string_view stem) {
  const auto dash = stem.rfind('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view name = stem.substr(0, dash), hash = stem.substr(dash + 1);
  if (!component_fault(name).empty() || !component_fault(hash).empty()) return std::nullopt;
  return std::pair{std::string(name), std::string(hash)};
}

/// The metadata of a `.pth` file: the store's own (under "torchsystem"), or, for a file in the
/// reference's layout {"epoch", "nn", "optimizer"}, what its file name and epoch tell.
void read_pth_metadata(const fs::path& path, OpenedCheckpoint& opened) {
  using training_detail::PyNode;
  const PyNode* root = opened.file.tree.root;
  if (root->kind != PyNode::Kind::dict)
    throw Damaged("it holds " + training_detail::describe(root) + ", not a checkpoint's dict");
  const PyNode* epoch = root->find("epoch");
  if (epoch == nullptr || epoch->kind != PyNode::Kind::integer || epoch->integer < 0)
    throw Damaged("it has no \"epoch\" int >= 0 (a checkpoint holds {\"epoch\", \"nn\", \"optimizer\"})");
  for (const char* key : {"nn", "optimizer"}) {
    const PyNode* member = root->find(key);
    if (member == nullptr || member->kind != PyNode::Kind::dict)
      throw Damaged(std::string("it has no \"") + key +
                    "\" dict (a checkpoint holds {\"epoch\", \"nn\", \"optimizer\"})");
  }
  if (const PyNode* metadata = root->find("torchsystem")) {
    try {
      opened.metadata = training_detail::to_json(metadata);
    } catch (const training_detail::PickleError& e) {
      throw Damaged(std::string("its \"torchsystem\" metadata are not plain data: ") + e.what());
    }
    check_metadata(opened.metadata, format_name);
    if (opened.metadata["epoch"].get<std::int64_t>() != epoch->integer)
      throw Damaged("its metadata say epoch " + opened.metadata["epoch"].dump() + ", its \"epoch\" " +
                    std::to_string(epoch->integer));
    return;
  }
  const auto identity = identity_of_stem(path.stem().string());
  if (!identity)
    throw Damaged(
        "it has no \"torchsystem\" metadata and its file name is not <name>-<hash>.pth, so its identity is "
        "unknown");
  opened.has_identity = false;
  opened.metadata = Json::object();
  opened.metadata["format"] = std::string(python_format_name);
  opened.metadata["model"] = {{"name", identity->first}, {"hash", identity->second}, {"arguments", nullptr}};
  opened.metadata["criterion"] = nullptr;
  opened.metadata["optimizer"] = nullptr;
  opened.metadata["epoch"] = epoch->integer;
  opened.metadata["extra"] = Json::object();
}

/// Opens the checkpoint at `path`; nullopt when it does not exist and `missing_ok`. A `.pt` file is
/// read as the former format, always in full; anything else as torch.save's, as much as `read` says.
std::optional<OpenedCheckpoint> open_checkpoint(const fs::path& path, bool missing_ok,
                                                training_detail::TorchSaveRead read) {
  const std::string display = path.string();
  Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int error = errno;
    if (error == ENOENT && missing_ok) return std::nullopt;
    throw CheckpointError(display, "cannot open: " + errno_text(error));
  }
  OpenedCheckpoint opened;
  if (::fstat(fd.get(), &opened.status) != 0)
    throw CheckpointError(display, "cannot read its status: " + errno_text(errno));
  if (!S_ISREG(opened.status.st_mode)) throw CheckpointError(display, "not a regular file");
  const auto size = static_cast<std::uint64_t>(opened.status.st_size);
  if (path.extension() != legacy_extension) {
    try {
      opened.file = training_detail::read_torch_save(fd.get(), size, read);
      read_pth_metadata(path, opened);
    } catch (const training_detail::ArchiveError& e) {
      throw CheckpointError(display, std::string("not a readable checkpoint: ") + e.what());
    } catch (const training_detail::StateError& e) {
      throw CheckpointError(display, std::string("not a readable checkpoint: ") + e.what());
    } catch (const Damaged& e) {
      throw CheckpointError(display, std::string("not a readable checkpoint: ") + e.what());
    } catch (const std::system_error& e) {
      throw CheckpointError(display, "cannot read: " + errno_text(e.code().value()));
    }
    return opened;
  }
  opened.legacy = true;
  try {
    verify_zip(fd.get(), size);
    // Read through the same descriptor: a save renaming another file over the path meanwhile cannot mix
    // the checked file with another one.
    int read_error = 0;
    try {
      opened.archive.load_from(
          [&](std::uint64_t position, void* buffer, std::size_t bytes) -> std::size_t {
            if (position > size) return 0;
            bytes = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, size - position));
            try {
              return read_at(fd.get(), buffer, bytes, position) ? bytes : 0;
            } catch (const std::system_error& e) {
              read_error = e.code().value();
              return 0;
            }
          },
          [size] { return static_cast<std::size_t>(size); });
    } catch (const std::exception& e) {
      if (read_error != 0) throw CheckpointError(display, "cannot read: " + errno_text(read_error));
      throw Damaged(message_of(e));
    }
    c10::IValue text;
    if (!opened.archive.try_read("metadata", text))
      throw Damaged("it has no \"metadata\" record (a LibTorch archive, but not a torchsystem checkpoint)");
    if (!text.isString()) throw Damaged("its \"metadata\" record is not a string");
    try {
      opened.metadata = parse_json(text.toStringRef());
    } catch (const JsonError& e) {
      throw Damaged(std::string("its metadata are not valid JSON: ") + e.what());
    }
    check_metadata(opened.metadata, legacy_format_name);
  } catch (const Damaged& e) {
    throw CheckpointError(display, std::string("not a readable checkpoint: ") + e.what());
  } catch (const std::system_error& e) {
    throw CheckpointError(display, "cannot read: " + errno_text(e.code().value()));
  }
  return opened;
}

CheckpointInfo describe(const fs::path& path, Json metadata, const struct stat& status) {
  CheckpointInfo info;
  info.name = metadata["model"]["name"].get<std::string>();
  info.hash = metadata["model"]["hash"].get<std::string>();
  info.epoch = metadata["epoch"].get<std::int64_t>();
  info.metadata = std::move(metadata);
  info.size = static_cast<std::uintmax_t>(status.st_size);
  info.modified = file_time(status);
  info.path = path;
  return info;
}

/// The epoch of the checkpoint at `path` (or of the former format's beside it), from its metadata;
/// nullopt when there is none or it cannot be read (a damaged file may be replaced by a save).
std::optional<std::int64_t> saved_epoch(fs::path path) {
  for (int format = 0; format < 2; ++format) {
    if (format == 1) path.replace_extension(legacy_extension);
    try {
      if (const auto opened = open_checkpoint(path, true, training_detail::TorchSaveRead::metadata))
        return opened->metadata["epoch"].get<std::int64_t>();
    } catch (const CheckpointError&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

/// ISO 8601 in UTC, to the second.
std::string iso_utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  char text[32] = "?";
  if (::gmtime_r(&now, &parts) != nullptr) std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

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

// ---------------------------------------------------------------------------------------------------------
// Loading without changing anything on failure.

/// Refuses a tensor in the archive whose shape or type differs from the module's: LibTorch's load would
/// silently replace the parameter by it.
void check_shapes(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                  const std::string& where) {
  const auto check = [&](const std::string& key, const torch::Tensor& current, bool is_buffer) {
    if (!current.defined()) return;
    torch::Tensor stored;
    if (!archive.try_read(key, stored, is_buffer) || !stored.defined()) return;  // load() reports it
    if (stored.sizes() != current.sizes() || stored.scalar_type() != current.scalar_type()) {
      throw Damaged(where + key + " is " + std::string(c10::toString(stored.scalar_type())) +
                    c10::str(stored.sizes()) + " in the checkpoint, " +
                    std::string(c10::toString(current.scalar_type())) + c10::str(current.sizes()) +
                    " in the module");
    }
  };
  for (const auto& parameter : module.named_parameters(false))
    check(parameter.key(), parameter.value(), false);
  for (const auto& buffer : module.named_buffers(false)) check(buffer.key(), buffer.value(), true);
  for (const auto& child : module.named_children()) {
    if (!child.value()->is_serializable()) continue;
    torch::serialize::InputArchive child_archive;
    if (archive.try_read(child.key(), child_archive))
      check_shapes(*child.value(), child_archive, where + child.key() + ".");
  }
}

template <class Handle>
Json metadata_of(const Handle& entity) {
  Json metadata = Json::object();
  metadata["name"] = getname(entity);
  metadata["hash"] = gethash(entity);
  metadata["arguments"] = getarguments(entity);
  return metadata;
}

/// Refuses an aggregate without one of its members before anything is read or written.
void require_member(const void* member, const fs::path& where, std::string_view verb, std::string_view name) {
  if (member == nullptr) {
    throw CheckpointError(where.string(),
                          "cannot " + std::string(verb) + ": the aggregate has no " + std::string(name));
  }
}

/// What a load can change, kept to be put back if it fails midway.
class Snapshot {
 public:
  explicit Snapshot(const TrainingAggregate& aggregate) : optimizer_(aggregate.optimizer.get()) {
    for (const auto* module : {aggregate.model.get(), aggregate.criterion.get()}) {
      for (const auto& tensor : module->parameters(true)) keep(tensor);
      for (const auto& tensor : module->buffers(true)) keep(tensor);
    }
    // An optimizer whose state cannot be cloned is not put back; LibTorch's own optimizers check what
    // they read before they change their state.
    try {
      for (const auto& [key, state] : optimizer_->state()) state_[key] = state->clone();
      state_kept_ = true;
    } catch (const std::exception&) {
      state_.clear();
    }
  }

  void restore() {
    torch::NoGradGuard no_grad;
    for (auto& [live, before] : tensors_) live.set_(before);
    if (state_kept_) optimizer_->state() = std::move(state_);
  }

 private:
  void keep(const torch::Tensor& tensor) {
    // load() replaces a tensor's storage in place (set_); a detached alias keeps the old storage.
    if (tensor.defined()) tensors_.emplace_back(tensor, tensor.detach());
  }

  torch::optim::Optimizer* optimizer_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> tensors_;
  ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>> state_;
  bool state_kept_ = false;
};

}  // namespace

// -------------------------------------------------------------------------------------------------------------

Json entity_metadata(const std::shared_ptr<torch::nn::Module>& module) {
  return metadata_of(module);
}

Json entity_metadata(const std::shared_ptr<torch::optim::Optimizer>& optimizer) {
  return metadata_of(optimizer);
}

CheckpointStore::CheckpointStore(std::filesystem::path directory) : directory_(std::move(directory)) {}

std::filesystem::path CheckpointStore::path_for(std::string_view name, std::string_view hash) const {
  for (const auto& [what, value] : {std::pair{"name", name}, std::pair{"hash", hash}}) {
    if (const std::string fault = component_fault(value); !fault.empty()) {
      throw CheckpointError(directory_.string(), std::string("the model ") + what + " " + quote_value(value) +
                                                     " " + fault + ", so it cannot name a checkpoint file");
    }
  }
  const std::string stem = std::string(name) + "-" + std::string(hash);
  if (stem.size() + 5 > max_file_name_size) {  // + ".json", the longest of the files
    throw CheckpointError(directory_.string(), "the checkpoint file name " + quote_value(stem) +
                                                   ".pth is longer than " +
                                                   std::to_string(max_file_name_size - 5) + " bytes");
  }
  return directory_ / (stem + std::string(extension));
}

CheckpointInfo CheckpointStore::save(const TrainingAggregate& aggregate, std::int64_t epoch,
                                     const Json& extra) const {
  using namespace training_detail;
  require_member(aggregate.model.get(), directory_, "save", "model");
  Json metadata = Json::object();
  metadata["format"] = std::string(format_name);
  metadata["model"] = entity_metadata(aggregate.model);
  const fs::path path =
      path_for(metadata["model"]["name"].get<std::string>(), metadata["model"]["hash"].get<std::string>());
  require_member(aggregate.criterion.get(), path, "save", "criterion");
  require_member(aggregate.optimizer.get(), path, "save", "optimizer");
  if (epoch < 0)
    throw CheckpointError(path.string(), "cannot save: the epoch " + std::to_string(epoch) + " is negative");
  metadata["criterion"] = entity_metadata(aggregate.criterion);
  metadata["optimizer"] = entity_metadata(aggregate.optimizer);
  metadata["epoch"] = epoch;
  metadata["extra"] = extra;
  std::string readable;
  PyTree tree;
  TensorTable tensors;
  try {
    pretty_append(readable, metadata, 0);
    readable += '\n';
    // The reference's layout {"epoch", "nn", "optimizer"}, with the criterion's state and the identity
    // beside it.
    PyNode* root = tree.dict();
    tree.set(root, "epoch", tree.integer(epoch));
    tree.set(root, "nn", module_state_dict(tree, tensors, *aggregate.model));
    tree.set(root, "optimizer", optimizer_state_dict(tree, tensors, *aggregate.optimizer));
    tree.set(root, "criterion", module_state_dict(tree, tensors, *aggregate.criterion));
    tree.set(root, "torchsystem", from_json(tree, metadata));
    tree.root = root;
  } catch (const Error& e) {
    throw CheckpointError(path.string(),
                          std::string("cannot save: the metadata cannot be written as JSON: ") + e.what());
  } catch (const std::exception& e) {
    throw CheckpointError(path.string(), "cannot save: " + message_of(e));
  }

  // Checked before anything is written. Under the identity's lock (try_lock, which the training job
  // holds) no other job can save between this check and the rename.
  if (const auto saved = saved_epoch(path); saved && *saved > epoch) {
    throw CheckpointError(path.string(),
                          "cannot save epoch " + std::to_string(epoch) + ": the store holds epoch " +
                              std::to_string(*saved) +
                              " of this identity, and a save never goes back to an earlier epoch");
  }

  std::error_code error;
  if (!directory_.empty()) fs::create_directories(directory_, error);
  if (error) throw CheckpointError(directory_.string(), "cannot create the directory: " + error.message());

  // The archive first, then the sidecar: the archive's rename is the commit, and the sidecar never
  // describes a save that did not complete (after a crash between the two it describes the previous one).
  struct stat status {};
  {
    AtomicFile file(path, extension);
    try {
      write_torch_save(tree, tensors,
                       [&](const void* data, std::size_t size) { return file.write(data, size); });
    } catch (const std::exception& e) {
      if (file.error() != 0) file.fail("cannot write " + file.temporary().string(), file.error());
      throw CheckpointError(path.string(), "cannot save: " + message_of(e));
    }
    status = file.commit();
  }
  {
    fs::path sidecar = path;
    sidecar.replace_extension(".json");
    AtomicFile file(sidecar, ".json");
    file.write(readable.data(), readable.size());
    file.commit();
  }
  // The former format's file of this identity is older than what was just saved.
  fs::path legacy = path;
  legacy.replace_extension(legacy_extension);
  ::unlink(legacy.c_str());
  return describe(path, std::move(metadata), status);
}

namespace {

/// Refuses a checkpoint whose identity differs from the aggregate's.
void check_identity(const std::string& display, const Json& metadata, const Json (&asked)[3]) {
  for (std::size_t i = 0; i < 3; ++i) {
    const Json& saved = metadata[members[i]];
    // Compared as text: exact for every value (NaN included), key order included, as the hash is.
    const std::string saved_text = dumps(saved), asked_text = dumps(asked[i]);
    if (saved_text != asked_text) {
      throw CheckpointError(display, std::string(members[i]) + " differs from the checkpoint's: saved " +
                                         saved_text + ", asked " + asked_text);
    }
  }
}

/// Restores a checkpoint of the former format (LibTorch's archive).
void load_legacy(const TrainingAggregate& aggregate, OpenedCheckpoint& opened, const std::string& display) {
  torch::serialize::InputArchive parts[3];
  for (std::size_t i = 0; i < 3; ++i) {
    if (!opened.archive.try_read(members[i], parts[i]))
      throw CheckpointError(
          display, std::string("not a readable checkpoint: it has no \"") + members[i] + "\" record");
  }
  try {
    check_shapes(*aggregate.model, parts[0], "model: ");
    check_shapes(*aggregate.criterion, parts[1], "criterion: ");
  } catch (const Damaged& e) {
    throw CheckpointError(display, std::string("does not fit the aggregate: ") + e.what());
  } catch (const std::exception& e) {
    throw CheckpointError(display, "not a readable checkpoint: " + message_of(e));
  }

  Snapshot snapshot(aggregate);
  std::size_t member = 0;
  try {
    aggregate.model->load(parts[0]);
    member = 1;
    aggregate.criterion->load(parts[1]);
    member = 2;
    aggregate.optimizer->load(parts[2]);
  } catch (const std::exception& e) {
    snapshot.restore();
    throw CheckpointError(display, std::string("cannot restore the ") + members[member] +
                                       " (nothing was changed): " + message_of(e));
  }
}

/// Restores a `.pth` checkpoint: every tensor and the optimizer's state are checked and built first,
/// then copied in, which allocates nothing and so cannot fail midway.
void load_pth(const TrainingAggregate& aggregate, const OpenedCheckpoint& opened,
              const std::string& display) {
  using namespace training_detail;
  const PyNode* root = opened.file.tree.root;
  const StorageTable& storages = opened.file.storages;
  std::vector<PreparedLoad> loads;
  try {
    loads.push_back(prepare_module_load(*aggregate.model, root->find("nn"), storages, "nn"));
    if (const PyNode* criterion = root->find("criterion"))
      loads.push_back(prepare_module_load(*aggregate.criterion, criterion, storages, "criterion"));
    loads.push_back(
        prepare_optimizer_load(*aggregate.optimizer, root->find("optimizer"), storages, "optimizer"));
  } catch (const StateError& e) {
    throw CheckpointError(display, std::string("does not fit the aggregate: ") + e.what());
  } catch (const std::exception& e) {
    throw CheckpointError(display, "not a readable checkpoint: " + message_of(e));
  }
  for (const PreparedLoad& load : loads) load();
}

}  // namespace

std::optional<CheckpointInfo> CheckpointStore::load(const TrainingAggregate& aggregate) const {
  require_member(aggregate.model.get(), directory_, "load", "model");
  const Json model = entity_metadata(aggregate.model);
  fs::path path = path_for(model["name"].get<std::string>(), model["hash"].get<std::string>());
  require_member(aggregate.criterion.get(), path, "load", "criterion");
  require_member(aggregate.optimizer.get(), path, "load", "optimizer");
  const Json asked[] = {model, entity_metadata(aggregate.criterion), entity_metadata(aggregate.optimizer)};

  using training_detail::TorchSaveRead;
  auto opened = open_checkpoint(path, true, TorchSaveRead::storages);
  if (!opened) {
    // A run saved in the former format resumes; its next save writes the new one.
    path.replace_extension(legacy_extension);
    opened = open_checkpoint(path, true, TorchSaveRead::storages);
    if (!opened) return std::nullopt;
  }
  const std::string display = path.string();
  // A file torch.save wrote in the reference's layout carries no metadata: its identity is its name,
  // which is the aggregate's, and its tensors are checked against the aggregate's below.
  if (opened->has_identity) check_identity(display, opened->metadata, asked);
  if (opened->legacy) {
    load_legacy(aggregate, *opened, display);
  } else {
    load_pth(aggregate, *opened, display);
  }
  return describe(path, std::move(opened->metadata), opened->status);
}

CheckpointInfo CheckpointStore::inspect(const std::filesystem::path& path, CheckpointCheck check) {
  using training_detail::TorchSaveRead;
  auto opened = open_checkpoint(
      path, false, check == CheckpointCheck::full ? TorchSaveRead::verify : TorchSaveRead::metadata);
  return describe(path, std::move(opened->metadata), opened->status);
}

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
  path.replace_extension(lock_extension);
  return path;
}

std::optional<IdentityLock> CheckpointStore::try_lock(std::string_view name, std::string_view hash) const {
  const fs::path path = lock_path_for(name, hash);
  std::error_code error;
  if (!directory_.empty()) fs::create_directories(directory_, error);
  if (error) throw CheckpointError(directory_.string(), "cannot create the directory: " + error.message());
  Descriptor fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666));
  if (fd.get() < 0) throw CheckpointError(path.string(), "cannot open the lock file: " + errno_text(errno));
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return std::nullopt;
    throw CheckpointError(path.string(), "cannot lock: " + errno_text(errno));
  }
  // Who holds it, for the message of the job that finds it taken. Written after the lock is taken, so a
  // reader may briefly see it empty or the previous holder's.
  const Json holder = {
      {"pid", static_cast<std::int64_t>(::getpid())}, {"host", host_name()}, {"started", iso_utc_now()}};
  const std::string text = dumps(holder) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    throw CheckpointError(path.string(), "cannot write the lock's holder: " + errno_text(errno));
  return IdentityLock(fd.release(), path);
}

std::string CheckpointStore::lock_holder(std::string_view name, std::string_view hash) const {
  const fs::path path = lock_path_for(name, hash);
  Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
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

std::vector<CheckpointInfo> CheckpointStore::list(bool skip_damaged, std::vector<std::string>* damaged,
                                                  CheckpointCheck check) const {
  std::error_code error;
  const auto status = fs::status(directory_, error);
  if (error || !fs::exists(status)) {
    if (!fs::exists(status) && (!error || error == std::errc::no_such_file_or_directory)) return {};
    throw CheckpointError(directory_.string(), "cannot read the directory: " + error.message());
  }
  if (!fs::is_directory(status)) throw CheckpointError(directory_.string(), "not a directory");

  std::vector<fs::path> candidates;
  for (fs::directory_iterator it(directory_, error), end; !error && it != end; it.increment(error)) {
    const fs::path& file = it->path();
    const std::string name = file.filename().string();
    if (name.starts_with('.')) continue;  // hidden files, temporary files of a save
    if (file.extension() != extension && file.extension() != legacy_extension) continue;
    if (!is_identity_stem(file.stem().string())) continue;
    std::error_code type_error;
    if (!it->is_regular_file(type_error)) continue;
    candidates.push_back(file);
  }
  if (error) throw CheckpointError(directory_.string(), "cannot read the directory: " + error.message());
  std::sort(candidates.begin(), candidates.end());
  // Where both formats hold one identity, the `.pth` is the newer (a save removes the `.pt`).
  std::erase_if(candidates, [&](const fs::path& file) {
    if (file.extension() != legacy_extension) return false;
    fs::path newer = file;
    newer.replace_extension(extension);
    return std::binary_search(candidates.begin(), candidates.end(), newer);
  });

  std::vector<CheckpointInfo> found;
  for (const fs::path& candidate : candidates) {
    try {
      CheckpointInfo info = inspect(candidate, check);
      std::string expected;
      try {
        expected = path_for(info.name, info.hash).stem().string();
      } catch (const CheckpointError&) {
        expected = "(an invalid identity)";
      }
      if (expected != candidate.stem().string()) {
        throw CheckpointError(candidate.string(),
                              "holds the checkpoint of " + quote_value(info.name + "-" + info.hash) +
                                  ", not the one its file name says (copied or renamed?)");
      }
      found.push_back(std::move(info));
    } catch (const CheckpointError& e) {
      std::error_code gone;
      if (!fs::exists(candidate, gone) && !gone) continue;  // removed since the directory was read
      if (!skip_damaged) throw;
      if (damaged) damaged->push_back(e.what());
    }
  }
  std::sort(found.begin(), found.end(), [](const CheckpointInfo& a, const CheckpointInfo& b) {
    return std::tie(a.name, a.hash) < std::tie(b.name, b.hash);
  });
  return found;
}

}  // namespace torchsystem
