// torch.save's container, written with LibTorch's zip writer and read with libzip (torch_save.hpp).
#include "torch_save.hpp"

#include "../common/zip_support.hpp"

#include <caffe2/serialize/inline_container.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace torchsystem::checkpoint_detail {
namespace {

struct Record {
  zip_uint64_t index = 0;
  std::uint64_t size = 0;
};

class ZipReader {
 public:
  ZipReader(int fd, std::uint64_t size) {
    if (size < 22) throw ArchiveError("not a torch.save file (" + std::to_string(size) + " bytes)");
    // libzip owns (and closes) the descriptor it is given; the caller keeps its own.
    const int copy = ::dup(fd);
    if (copy < 0) throw ArchiveError(std::string("cannot read it: ") + std::strerror(errno));
    int code = 0;
    archive_.reset(zip_fdopen(copy, ZIP_CHECKCONS | ZIP_RDONLY, &code));
    if (!archive_) {
      ::close(copy);
      throw ArchiveError("not a torch.save file (" + detail::zip_error_text(code) + ")");
    }
    const zip_int64_t entries = zip_get_num_entries(archive_.get(), 0);
    if (entries <= 0) throw ArchiveError("not a torch.save file (an empty zip file)");
    for (zip_uint64_t index = 0; index < static_cast<zip_uint64_t>(entries); ++index) {
      zip_stat_t stat;
      if (zip_stat_index(archive_.get(), index, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_NAME) ||
          !(stat.valid & ZIP_STAT_SIZE))
        throw ArchiveError("record #" + std::to_string(index) + " is damaged (" +
                           zip_strerror(archive_.get()) + ")");
      const std::string name = stat.name;
      // torch.save stores every record as is; a compressed one could announce any size.
      if ((stat.valid & ZIP_STAT_COMP_METHOD) && stat.comp_method != ZIP_CM_STORE)
        throw ArchiveError("record '" + name + "' is compressed, which torch.save never does");
      if (stat.size > size) throw ArchiveError("record '" + name + "' is larger than the file");
      if (!records_.emplace(name, Record{index, stat.size}).second)
        throw ArchiveError("the record '" + name + "' appears twice");
      order_.push_back(name);
    }
    const auto slash = order_.front().find('/');
    if (slash == std::string::npos)
      throw ArchiveError("not a torch.save file (its first record is not in a directory)");
    prefix_ = order_.front().substr(0, slash + 1);
  }

  const std::string& prefix() const { return prefix_; }
  const std::vector<std::string>& names() const { return order_; }
  std::optional<Record> find(const std::string& name) const {
    const auto found = records_.find(name);
    if (found == records_.end()) return std::nullopt;
    return found->second;
  }

  /// Reads a record to its end into `out` (exactly its size); the CRC-32 is checked at the end.
  void read(const std::string& name, const Record& record, void* out) {
    detail::ZipFile file(zip_fopen_index(archive_.get(), record.index, 0));
    if (!file) throw ArchiveError("record '" + name + "' is damaged (" + zip_strerror(archive_.get()) + ")");
    auto* at = static_cast<char*>(out);
    std::uint64_t left = record.size;
    while (left > 0) {
      const zip_int64_t got = zip_fread(file.get(), at, std::min<std::uint64_t>(left, 1 << 26));
      if (got < 0)
        throw ArchiveError("record '" + name + "' is corrupted (" + zip_file_strerror(file.get()) + ")");
      if (got == 0) throw ArchiveError("record '" + name + "' is shorter than its size");
      at += got;
      left -= static_cast<std::uint64_t>(got);
    }
    // Reading past the end is what makes libzip compare the CRC-32.
    char extra = 0;
    const zip_int64_t more = zip_fread(file.get(), &extra, 1);
    if (more < 0)
      throw ArchiveError("record '" + name + "' is corrupted (" + zip_file_strerror(file.get()) + ")");
    if (more > 0) throw ArchiveError("record '" + name + "' is longer than its size");
  }

  /// Reads a record only to check it.
  void check(const std::string& name, const Record& record) {
    detail::ZipFile file(zip_fopen_index(archive_.get(), record.index, 0));
    if (!file) throw ArchiveError("record '" + name + "' is damaged (" + zip_strerror(archive_.get()) + ")");
    std::vector<char> buffer(1 << 20);
    for (zip_int64_t got; (got = zip_fread(file.get(), buffer.data(), buffer.size())) != 0;) {
      if (got < 0)
        throw ArchiveError("record '" + name + "' is corrupted (" + zip_file_strerror(file.get()) + ")");
    }
  }

 private:
  detail::ZipArchive archive_;
  std::unordered_map<std::string, Record> records_;
  std::vector<std::string> order_;
  std::string prefix_;
};

/// Reads every record but the pickle's to its end (so every CRC-32 is checked), keeping the storages
/// `tree` refers to in `keep` when given.
void read_records(ZipReader& zip, const PyTree& tree, StorageTable* keep) {
  const std::string& prefix = zip.prefix();
  for (const std::string& name : zip.names()) {
    if (name == prefix + "data.pkl" || name == prefix + "byteorder") continue;
    const Record record = *zip.find(name);
    const std::string key =
        name.starts_with(prefix + "data/") ? name.substr(prefix.size() + 5) : std::string();
    const auto storage = tree.storages.find(key);
    if (keep == nullptr || key.empty() || storage == tree.storages.end()) {
      zip.check(name, record);
      continue;
    }
    const auto& [type, numel] = storage->second;
    torch::Tensor values = torch::empty({static_cast<std::int64_t>(numel)},
                                        torch::TensorOptions().dtype(storage_scalar_type(type)));
    zip.read(name, record, values.data_ptr());
    keep->add(key, std::move(values));
  }
}

}  // namespace

void write_torch_save(const PyTree& tree, const TensorTable& tensors,
                      const std::function<std::size_t(const void*, std::size_t)>& sink) {
  const std::string pickle = pickle_dump(tree);
  caffe2::serialize::PyTorchStreamWriter writer(sink);
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  // PyTorch >= 2.1 writes and checks the byte order; older versions ignore the record.
  static constexpr std::string_view byteorder = "little";
  writer.writeRecord("byteorder", byteorder.data(), byteorder.size());
  const auto& all = tensors.tensors();
  for (std::size_t key = 0; key < all.size(); ++key) {
    const torch::Tensor& tensor = all[key];
    writer.writeRecord("data/" + std::to_string(key), tensor.data_ptr(), tensor.nbytes());
  }
  writer.writeEndOfFile();
}

TorchSaveFile read_torch_save(int fd, std::uint64_t size, TorchSaveRead read) {
  ZipReader zip(fd, size);
  const std::string& prefix = zip.prefix();
  for (const std::string& name : zip.names()) {
    if (!name.starts_with(prefix))
      throw ArchiveError("the record '" + name + "' lies outside the archive's directory '" + prefix + "'");
  }
  const auto pickle_record = zip.find(prefix + "data.pkl");
  if (!pickle_record) throw ArchiveError("not a torch.save file (it has no record '" + prefix + "data.pkl')");
  if (pickle_record->size > (std::uint64_t{1} << 30)) throw ArchiveError("its pickle is larger than 1 GiB");
  std::string pickle(static_cast<std::size_t>(pickle_record->size), '\0');
  zip.read(prefix + "data.pkl", *pickle_record, pickle.data());
  if (const auto order = zip.find(prefix + "byteorder")) {
    std::string text(static_cast<std::size_t>(std::min<std::uint64_t>(order->size, 16)), '\0');
    if (order->size > 16) throw ArchiveError("its byteorder record is not 'little' or 'big'");
    zip.read(prefix + "byteorder", *order, text.data());
    if (text != "little")
      throw ArchiveError("its tensors are stored big-endian ('" + text + "'), which is not read here");
  }

  TorchSaveFile file;
  try {
    file.tree = pickle_load(pickle, [&](std::string_view key) -> std::optional<std::uint64_t> {
      const auto record = zip.find(prefix + "data/" + std::string(key));
      if (!record) return std::nullopt;
      return record->size;
    });
  } catch (const PickleError& error) {
    throw ArchiveError("its pickle '" + prefix + "data.pkl' cannot be read: " + error.what());
  }

  // A listing of thousands of checkpoints reads no tensor: its time does not grow with their size.
  if (read != TorchSaveRead::metadata)
    read_records(zip, file.tree, read == TorchSaveRead::storages ? &file.storages : nullptr);
  return file;
}

StorageTable read_storages(int fd, std::uint64_t size, const PyTree& tree) {
  ZipReader zip(fd, size);
  StorageTable storages;
  read_records(zip, tree, &storages);
  return storages;
}

std::uint64_t storage_bytes(const PyTree& tree) {
  std::uint64_t total = 0;
  // pickle_load checked each storage's elements against its record, which lies within the file.
  for (const auto& [key, storage] : tree.storages)
    total += storage.second * storage_element_size(storage.first).value_or(0);
  return total;
}

}  // namespace torchsystem::checkpoint_detail
