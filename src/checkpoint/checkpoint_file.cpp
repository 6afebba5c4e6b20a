// One checkpoint file of the store: names, verification and opening (see checkpoint_file.hpp).
#include "checkpoint_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <caffe2/serialize/versions.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "../common/zip_support.hpp"
#include "archive_pickle.hpp"
#include "archive_source.hpp"
#include "file.hpp"
#include "pickle.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/detail/message.hpp"

namespace torchsystem::checkpoint_detail {
namespace {

namespace fs = std::filesystem;
using detail::message_of;

bool valid_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';
}

// ---------------------------------------------------------------------------------------------------------
// Verifying the zip container. LibTorch writes archives as zip files whose records carry a CRC-32, but
// LibTorch 1.13 does not check them when it reads: a flipped byte in a tensor would load silently. So
// libzip reads every record first; it checks the container's consistency and each record's CRC-32.

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
    if (const std::string fault = pickle_fault(pickle, storage_record_size); !fault.empty())
      throw Damaged("record '" + record + "' is a pickle LibTorch cannot read safely (" + fault + ")");
  }
}

void verify_zip(int fd, std::uint64_t size) {
  if (size < 22) throw Damaged("not a LibTorch archive (" + std::to_string(size) + " bytes)");
  // libzip owns (and closes) the descriptor it is given; the caller keeps reading through its own.
  const int copy = ::dup(fd);
  if (copy < 0) throw Damaged(std::string("cannot read it: ") + std::strerror(errno));
  int code = 0;
  detail::ZipArchive archive(zip_fdopen(copy, ZIP_CHECKCONS, &code));
  if (!archive) {
    ::close(copy);
    throw Damaged("not a LibTorch archive (" + detail::zip_error_text(code) + ")");
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
    detail::ZipFile file(zip_fopen_index(archive.get(), index, 0));
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
    if (const std::string fault = is_source ? attribute_source_fault(text) : ""; !fault.empty())
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

/// How many values a JSON document holds, counted without recursion.
std::size_t value_count(const Json& json) {
  std::size_t count = 0;
  std::vector<const Json*> pending{&json};
  while (!pending.empty()) {
    const Json* value = pending.back();
    pending.pop_back();
    ++count;
    if (value->is_structured())
      for (const Json& item : *value) pending.push_back(&item);
  }
  return count;
}

/// The metadata of a `.pth` file: the store's own (under "torchsystem"), or, for a file in the
/// reference's layout {"epoch", "nn", "optimizer"}, what its file name and epoch tell.
void read_pth_metadata(const fs::path& path, OpenedCheckpoint& opened, std::size_t metadata_values) {
  const PyNode* root = opened.file.tree.root;
  if (root->kind != PyNode::Kind::dict)
    throw Damaged("it holds " + describe(root) + ", not a checkpoint's dict");
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
      opened.metadata = to_json(metadata, &opened.metadata_values, metadata_values);
    } catch (const ValueLimitError& e) {
      throw MetadataLimitError(path.string(),
                               std::string("its \"torchsystem\" metadata are too large: ") + e.what());
    } catch (const PickleError& e) {
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
  opened.metadata_values = value_count(opened.metadata);
}

}  // namespace

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

std::string component_fault(std::string_view value) {
  if (value.empty()) return "is empty";
  if (value == "." || value == "..") return "is a relative directory name";
  if (value.size() > max_component_size)
    return "is longer than " + std::to_string(max_component_size) + " bytes";
  if (!std::all_of(value.begin(), value.end(), valid_character))
    return "holds characters other than ASCII letters, digits, '_', '-' and '.'";
  return {};
}

std::optional<std::pair<std::string, std::string>> identity_of_stem(std::string_view stem) {
  const auto dash = stem.rfind('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view name = stem.substr(0, dash), hash = stem.substr(dash + 1);
  if (!component_fault(name).empty() || !component_fault(hash).empty()) return std::nullopt;
  return std::pair{std::string(name), std::string(hash)};
}

bool is_identity_stem(std::string_view stem) {
  for (std::size_t dash = stem.find('-'); dash != std::string_view::npos; dash = stem.find('-', dash + 1)) {
    if (component_fault(stem.substr(0, dash)).empty() && component_fault(stem.substr(dash + 1)).empty())
      return true;
  }
  return false;
}

std::optional<OpenedCheckpoint> open_checkpoint(const fs::path& path, bool missing_ok, TorchSaveRead read,
                                                std::size_t metadata_values, bool keep_open) {
  const std::string display = path.string();
  // No symbolic link is followed, and a FIFO or a device cannot block the open: what is not a regular
  // file is refused after fstat, before a byte is read.
  Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0) {
    const int error = errno;
    if (error == ENOENT && missing_ok) return std::nullopt;
    if (error == ELOOP) throw ForeignFileError(display, "a symbolic link, not a regular file of the store");
    throw CheckpointError(display, "cannot open: " + errno_text(error));
  }
  OpenedCheckpoint opened;
  if (::fstat(fd.get(), &opened.status) != 0)
    throw CheckpointError(display, "cannot read its status: " + errno_text(errno));
  if (!S_ISREG(opened.status.st_mode)) throw ForeignFileError(display, "not a regular file");
  const auto size = static_cast<std::uint64_t>(opened.status.st_size);
  if (path.extension() != legacy_extension) {
    try {
      opened.file = read_torch_save(fd.get(), size, read);
      read_pth_metadata(path, opened, metadata_values);
      if (keep_open) opened.descriptor = std::move(fd);
    } catch (const ArchiveError& e) {
      throw CheckpointError(display, std::string("not a readable checkpoint: ") + e.what());
    } catch (const StateError& e) {
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
    opened.metadata_values = value_count(opened.metadata);
    if (opened.metadata_values > metadata_values)
      throw MetadataLimitError(display, "its metadata are too large: they hold more than " +
                                            std::to_string(metadata_values) + " values");
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

std::optional<std::int64_t> saved_epoch(fs::path path) {
  for (int format = 0; format < 2; ++format) {
    if (format == 1) path.replace_extension(legacy_extension);
    try {
      if (const auto opened = open_checkpoint(path, true, TorchSaveRead::metadata))
        return opened->metadata["epoch"].get<std::int64_t>();
    } catch (const CheckpointError&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace torchsystem::checkpoint_detail
