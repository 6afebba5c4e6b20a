// The checkpoint store: archives named by identity, written atomically, checked before they are loaded.
//
// File layout, the metadata format and the guarantees are described in docs/checkpoints.md. The files
// themselves are read by checkpoint_file.cpp; the identity lock is in identity_lock.cpp.
#include "torchsystem/checkpoint/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <torch/serialize/input-archive.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <system_error>
#include <tuple>
#include <utility>

#include "checkpoint_file.hpp"
#include "file.hpp"
#include "state_dict.hpp"
#include "torch_save.hpp"
#include "torchsystem/entity.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/torch/detail/message.hpp"

namespace torchsystem {

// The opened file a Checkpoint holds.
namespace checkpoint_detail {
struct OpenedCheckpoint;
}

namespace {

namespace fs = std::filesystem;
using namespace checkpoint_detail;
using detail::message_of;

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

/// Refuses an aggregate without one of its members before anything is read or written.
void require_member(bool present, const fs::path& where, std::string_view verb, std::string_view name) {
  if (!present) {
    throw CheckpointError(where.string(),
                          "cannot " + std::string(verb) + ": the aggregate has no " + std::string(name));
  }
}

/// The model's identity {"name", "hash", "arguments"}, refusing an aggregate without a model.
Json model_identity(const Aggregate& aggregate, const fs::path& directory, std::string_view verb) {
  require_member(!aggregate.is_empty() && aggregate.model_ptr() != nullptr, directory, verb, "model");
  return aggregate.model().metadata();
}

/// Refuses an aggregate without its criterion or optimizer.
void require_rest(const Aggregate& aggregate, const fs::path& path, std::string_view verb) {
  require_member(aggregate.criterion() != nullptr, path, verb, "criterion");
  require_member(aggregate.optimizer_ptr() != nullptr, path, verb, "optimizer");
}

/// What a load can change, kept to be put back if it fails midway.
class Snapshot {
 public:
  explicit Snapshot(const Aggregate& aggregate) : optimizer_(&aggregate.optimizer()) {
    for (const auto& [name, tensor] : aggregate.model().state()) keep(tensor);
    for (const auto& [name, tensor] : module_state(*aggregate.criterion())) keep(tensor);
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

/// Refuses a checkpoint whose identity differs from the aggregate's.
void check_identity(const std::string& display, const Json& metadata, const Json& asked) {
  for (const char* member : members) {
    const Json& saved = metadata[member];
    // Compared as text: exact for every value (NaN included), key order included, as the hash is.
    const std::string saved_text = dumps(saved), asked_text = dumps(asked[member]);
    if (saved_text != asked_text) {
      throw CheckpointError(display, std::string(member) + " differs from the checkpoint's: saved " +
                                         saved_text + ", asked " + asked_text);
    }
  }
}

/// Restores a checkpoint of the former format (LibTorch's archive): modules only.
void load_legacy(const Aggregate& aggregate, OpenedCheckpoint& opened, const std::string& display) {
  const auto model = aggregate.model().module();
  if (!model)
    throw CheckpointError(display,
                          "a checkpoint of the former format holds a torch::nn::Module, and the "
                          "aggregate's model is not one");
  torch::serialize::InputArchive parts[3];
  for (std::size_t i = 0; i < 3; ++i) {
    if (!opened.archive.try_read(members[i], parts[i]))
      throw CheckpointError(
          display, std::string("not a readable checkpoint: it has no \"") + members[i] + "\" record");
  }
  try {
    check_shapes(*model, parts[0], "model: ");
    check_shapes(*aggregate.criterion(), parts[1], "criterion: ");
  } catch (const Damaged& e) {
    throw CheckpointError(display, std::string("does not fit the aggregate: ") + e.what());
  } catch (const std::exception& e) {
    throw CheckpointError(display, "not a readable checkpoint: " + message_of(e));
  }

  Snapshot snapshot(aggregate);
  std::size_t member = 0;
  try {
    model->load(parts[0]);
    member = 1;
    aggregate.criterion()->load(parts[1]);
    member = 2;
    aggregate.optimizer().load(parts[2]);
  } catch (const std::exception& e) {
    snapshot.restore();
    throw CheckpointError(display, std::string("cannot restore the ") + members[member] +
                                       " (nothing was changed): " + message_of(e));
  }
}

/// Restores a `.pth` checkpoint. What the pickle alone tells is checked first, before a tensor of the file
/// is allocated: the names, shapes and types of the model's and the criterion's tensors, and the bytes of
/// all its storages against what the aggregate's state can take. Then the storages are read (from the file
/// opened by read(), unless they were read with it), every tensor and the optimizer's state built and
/// checked, and only then copied in, which allocates nothing and so cannot fail midway.
void load_pth(const Aggregate& aggregate, const OpenedCheckpoint& opened, const std::string& display) {
  const PyNode* root = opened.file.tree.root;
  const PyNode* criterion = root->find("criterion");
  std::vector<PreparedLoad> loads;
  try {
    const NamedTensors model_state = aggregate.model().state();
    const NamedTensors criterion_state = module_state(*aggregate.criterion());
    check_module_state(model_state, root->find("nn"), "nn");
    if (criterion != nullptr) check_module_state(criterion_state, criterion, "criterion");
    const std::uint64_t bytes = storage_bytes(opened.file.tree);
    const std::uint64_t bound = state_bytes_bound({model_state, criterion_state}, aggregate.optimizer());
    if (bytes > bound)
      throw StateError("its tensors take " + std::to_string(bytes) + " bytes, more than the " +
                       std::to_string(bound) + " the aggregate's state and its optimizer's can take");
    StorageTable read_now;
    if (opened.descriptor.get() >= 0)
      read_now = read_storages(opened.descriptor.get(), static_cast<std::uint64_t>(opened.status.st_size),
                               opened.file.tree);
    const StorageTable& storages = opened.descriptor.get() >= 0 ? read_now : opened.file.storages;
    loads.push_back(prepare_module_load(model_state, root->find("nn"), storages, "nn"));
    if (criterion != nullptr)
      loads.push_back(prepare_module_load(criterion_state, criterion, storages, "criterion"));
    loads.push_back(
        prepare_optimizer_load(aggregate.optimizer(), root->find("optimizer"), storages, "optimizer"));
  } catch (const StateError& e) {
    throw CheckpointError(display, std::string("does not fit the aggregate: ") + e.what());
  } catch (const ArchiveError& e) {
    throw CheckpointError(display, std::string("not a readable checkpoint: ") + e.what());
  } catch (const std::system_error& e) {
    throw CheckpointError(display, "cannot read: " + errno_text(e.code().value()));
  } catch (const AllocationLimitError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(display, "not a readable checkpoint: " + message_of(e));
  }
  for (const PreparedLoad& load : loads) load();
}

/// The identity's archive: the `.pth`, else a `.pt` of the former format; read as `read` says; nullopt
/// when neither exists.
std::optional<std::pair<fs::path, OpenedCheckpoint>> open_identity(const CheckpointStore& store,
                                                                   std::string_view name,
                                                                   std::string_view hash, TorchSaveRead read,
                                                                   bool keep_open = false) {
  fs::path path = store.path_for(name, hash);
  auto opened = open_checkpoint(path, true, read, max_json_values, keep_open);
  if (!opened) {
    // A run saved in the former format resumes; its next save writes the new one.
    path.replace_extension(legacy_extension);
    opened = open_checkpoint(path, true, read, max_json_values, keep_open);
    if (!opened) return std::nullopt;
  }
  return std::pair{std::move(path), std::move(*opened)};
}

/// Refuses a file that holds another identity than its name says (copied or renamed).
void check_named(const CheckpointInfo& info, const fs::path& file) {
  std::string expected;
  if (CheckpointStore::identity_fault(info.name, info.hash).empty()) expected = info.name + "-" + info.hash;
  if (expected.empty() || expected != file.stem().string()) {
    throw CheckpointError(file.string(), "holds the checkpoint of " +
                                             quote_value(info.name + "-" + info.hash) +
                                             ", not the one its file name says (copied or renamed?)");
  }
}

/// The store's checkpoint files, in the order of the identities their names say (name, then hash), found
/// from the directory alone. Hidden and temporary files, names that are no identity and entries that are
/// not regular files (never followed: what the store would refuse to read is not listed) are left out;
/// of an identity held in both formats, only the `.pth` (a save removes the `.pt`).
std::vector<fs::path> checkpoint_files(const fs::path& directory) {
  std::error_code error;
  const auto status = fs::status(directory, error);
  if (error || !fs::exists(status)) {
    if (!fs::exists(status) && (!error || error == std::errc::no_such_file_or_directory)) return {};
    throw CheckpointError(directory.string(), "cannot read the directory: " + error.message());
  }
  if (!fs::is_directory(status)) throw CheckpointError(directory.string(), "not a directory");

  std::vector<std::pair<std::pair<std::string, std::string>, fs::path>> found;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    const fs::path& file = it->path();
    if (file.filename().string().starts_with('.')) continue;  // hidden files, temporary files of a save
    if (file.extension() != extension && file.extension() != legacy_extension) continue;
    const std::string stem = file.stem().string();
    if (!is_identity_stem(stem)) continue;
    std::error_code type_error;
    if (!fs::is_regular_file(it->symlink_status(type_error))) continue;
    found.emplace_back(identity_of_stem(stem).value_or(std::pair{stem, std::string()}), file);
  }
  if (error) throw CheckpointError(directory.string(), "cannot read the directory: " + error.message());
  std::sort(found.begin(), found.end());
  std::vector<fs::path> files;
  for (std::size_t index = 0; index < found.size(); ++index) {
    const bool newer_follows = index + 1 < found.size() && found[index + 1].first == found[index].first;
    if (newer_follows) continue;  // ".pt" sorts before ".pth": the newer format of one identity wins
    files.push_back(std::move(found[index].second));
  }
  return files;
}

}  // namespace

// -------------------------------------------------------------------------------------------------------------

Json entity_metadata(const std::shared_ptr<torch::nn::Module>& module) {
  return {{"name", getname(module)}, {"hash", gethash(module)}, {"arguments", getarguments(module)}};
}

Json entity_metadata(const std::shared_ptr<torch::optim::Optimizer>& optimizer) {
  return {{"name", getname(optimizer)}, {"hash", gethash(optimizer)}, {"arguments", getarguments(optimizer)}};
}

Checkpoint::Checkpoint(CheckpointInfo info, std::shared_ptr<OpenedCheckpoint> content)
    : info_(std::move(info)), content_(std::move(content)) {}

std::uint64_t Checkpoint::tensor_bytes() const {
  // The former format's archive holds its tensors uncompressed: its size bounds them.
  return content_->legacy ? static_cast<std::uint64_t>(content_->status.st_size)
                          : storage_bytes(content_->file.tree);
}

void Checkpoint::restore(const Aggregate& aggregate) const {
  const std::string display = info_.path.string();
  require_member(!aggregate.is_empty() && aggregate.model_ptr() != nullptr, info_.path, "load", "model");
  require_rest(aggregate, info_.path, "load");
  // A file torch.save wrote in the reference's layout carries no metadata: its identity is its name,
  // which is the aggregate's, and its tensors are checked against the aggregate's below.
  if (content_->has_identity) check_identity(display, content_->metadata, aggregate.metadata());
  if (content_->legacy) {
    load_legacy(aggregate, *content_, display);
  } else {
    load_pth(aggregate, *content_, display);
  }
  aggregate.set_epoch(info_.epoch);
}

CheckpointStore::CheckpointStore(std::filesystem::path directory) : directory_(std::move(directory)) {}

std::string CheckpointStore::identity_fault(std::string_view name, std::string_view hash) {
  for (const auto& [what, value] : {std::pair{"name", name}, std::pair{"hash", hash}}) {
    if (const std::string fault = component_fault(value); !fault.empty())
      return std::string("the model ") + what + " " + quote_value(value) + " " + fault;
  }
  const std::size_t stem = name.size() + 1 + hash.size();
  if (stem + sidecar_extension.size() > max_file_name_size)  // the longest of the files
    return "the checkpoint file name " + quote_value(std::string(name) + "-" + std::string(hash)) +
           ".pth is longer than " + std::to_string(max_file_name_size - sidecar_extension.size()) + " bytes";
  return {};
}

std::filesystem::path CheckpointStore::path_for(std::string_view name, std::string_view hash) const {
  if (const std::string fault = identity_fault(name, hash); !fault.empty()) {
    // A name or hash that cannot be a component says so; a name too long for the file system, too.
    const bool too_long = fault.starts_with("the checkpoint file name");
    throw CheckpointError(directory_.string(),
                          too_long ? fault : fault + ", so it cannot name a checkpoint file");
  }
  return directory_ / (std::string(name) + "-" + std::string(hash) + std::string(extension));
}

fs::path CheckpointStore::script_archive_for(std::string_view name, std::string_view hash) const {
  fs::path path = path_for(name, hash);
  path.replace_extension(script_extension);
  return path;
}

namespace {

/// The whole of a file, for the archive a store keeps; CheckpointError naming it when it cannot be read.
std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) throw CheckpointError(path.string(), "cannot open the TorchScript archive");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw CheckpointError(path.string(), "cannot read the TorchScript archive");
  return bytes;
}

}  // namespace

void CheckpointStore::keep_script_archive(std::string_view name, std::string_view hash,
                                          const fs::path& archive) const {
  const fs::path target = script_archive_for(name, hash);
  const std::string bytes = file_bytes(archive);
  std::error_code error;
  if (fs::exists(target, error) && fs::file_size(target, error) == bytes.size() &&
      file_bytes(target) == bytes)
    return;
  if (!directory_.empty()) fs::create_directories(directory_, error);
  if (error) throw CheckpointError(directory_.string(), "cannot create the directory: " + error.message());
  AtomicFile file(target, script_extension);
  if (file.write(bytes.data(), bytes.size()) != bytes.size())
    file.fail("cannot write " + file.temporary().string(), file.error());
  file.commit();
}

CheckpointInfo CheckpointStore::save(const Aggregate& aggregate, const Json& extra) const {
  Json metadata = Json::object();
  metadata["format"] = std::string(format_name);
  metadata["model"] = model_identity(aggregate, directory_, "save");
  const fs::path path =
      path_for(metadata["model"]["name"].get<std::string>(), metadata["model"]["hash"].get<std::string>());
  require_rest(aggregate, path, "save");
  const std::int64_t epoch = aggregate.epoch();
  if (epoch < 0)
    throw CheckpointError(path.string(), "cannot save: the epoch " + std::to_string(epoch) + " is negative");
  metadata["criterion"] = entity_metadata(aggregate.criterion());
  metadata["optimizer"] = entity_metadata(aggregate.optimizer_ptr());
  metadata["epoch"] = epoch;
  metadata["extra"] = extra;
  std::string readable;
  PyTree tree;
  TensorTable tensors;
  try {
    readable = dumps_indented(metadata) + "\n";
    // The reference's layout {"epoch", "nn", "optimizer"}, with the criterion's state and the identity
    // beside it.
    PyNode* root = tree.dict();
    tree.set(root, "epoch", tree.integer(epoch));
    tree.set(root, "nn", module_state_dict(tree, tensors, aggregate.model().state()));
    tree.set(root, "optimizer", optimizer_state_dict(tree, tensors, aggregate.optimizer()));
    tree.set(root, "criterion", module_state_dict(tree, tensors, module_state(*aggregate.criterion())));
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
      // A write error (a full disk) is kept by the file and reported by commit(), here, never to
      // LibTorch's zip writer: it would throw it, and throw again from its destructor, which finishes
      // the archive while the first exception unwinds, and that ends the process.
      write_torch_save(tree, tensors, [&](const void* data, std::size_t size) {
        file.write(data, size);
        return size;
      });
    } catch (const std::exception& e) {
      if (file.error() != 0) file.fail("cannot write " + file.temporary().string(), file.error());
      throw CheckpointError(path.string(), "cannot save: " + message_of(e));
    }
    status = file.commit();
  }
  {
    fs::path sidecar = path;
    sidecar.replace_extension(sidecar_extension);
    AtomicFile file(sidecar, sidecar_extension);
    file.write(readable.data(), readable.size());
    file.commit();
  }
  // The former format's file of this identity is older than what was just saved.
  fs::path legacy = path;
  legacy.replace_extension(legacy_extension);
  ::unlink(legacy.c_str());
  return describe(path, std::move(metadata), status);
}

std::optional<CheckpointInfo> CheckpointStore::load(const Aggregate& aggregate) const {
  const Json model = model_identity(aggregate, directory_, "load");
  require_rest(aggregate, path_for(model["name"].get<std::string>(), model["hash"].get<std::string>()),
               "load");
  auto checkpoint = read(model["name"].get<std::string>(), model["hash"].get<std::string>());
  if (!checkpoint) return std::nullopt;
  checkpoint->restore(aggregate);
  return checkpoint->info();
}

std::optional<Checkpoint> CheckpointStore::read(std::string_view name, std::string_view hash) const {
  // The pickle now, the storages when restore() has checked the pickle against the aggregate.
  auto found = open_identity(*this, name, hash, TorchSaveRead::metadata, true);
  if (!found) return std::nullopt;
  auto& [path, opened] = *found;
  auto content = std::make_shared<OpenedCheckpoint>(std::move(opened));
  CheckpointInfo info = describe(path, content->metadata, content->status);
  return Checkpoint(std::move(info), std::move(content));
}

std::optional<CheckpointInfo> CheckpointStore::find(std::string_view name, std::string_view hash,
                                                    CheckpointCheck check) const {
  const auto read = check == CheckpointCheck::full ? TorchSaveRead::verify : TorchSaveRead::metadata;
  auto found = open_identity(*this, name, hash, read);
  if (!found) return std::nullopt;
  auto& [path, opened] = *found;
  CheckpointInfo info = describe(path, std::move(opened.metadata), opened.status);
  check_named(info, path);
  return info;
}

CheckpointInfo CheckpointStore::inspect(const std::filesystem::path& path, CheckpointCheck check) {
  auto opened = open_checkpoint(
      path, false, check == CheckpointCheck::full ? TorchSaveRead::verify : TorchSaveRead::metadata);
  return describe(path, std::move(opened->metadata), opened->status);
}

std::vector<CheckpointInfo> CheckpointStore::list(bool skip_damaged, std::vector<std::string>* damaged,
                                                  CheckpointCheck check) const {
  ListOptions options;
  options.check = check;
  options.skip_damaged = skip_damaged;
  CheckpointPage page = list(options);
  if (damaged)
    for (const CheckpointError& error : page.damaged) damaged->emplace_back(error.what());
  return std::move(page.checkpoints);
}

CheckpointPage CheckpointStore::list(const ListOptions& options) const {
  CheckpointPage page;
  const std::vector<fs::path> candidates = checkpoint_files(directory_);
  page.total = candidates.size();
  std::size_t left = options.metadata_values;
  for (std::size_t index = options.offset;
       index < candidates.size() && index - options.offset < options.limit; ++index) {
    const fs::path& candidate = candidates[index];
    const std::size_t allowed = std::min(left, max_json_values);
    try {
      std::optional<OpenedCheckpoint> opened;
      try {
        if (allowed == 0) throw MetadataLimitError(candidate.string(), "unread");
        opened = open_checkpoint(
            candidate, false,
            options.check == CheckpointCheck::full ? TorchSaveRead::verify : TorchSaveRead::metadata,
            allowed);
      } catch (const MetadataLimitError&) {
        if (allowed == max_json_values) throw;  // a file's own bound: damaged whatever the listing
        // Reading it spent what was left, so no file after it is read: a page costs its budget at most.
        const std::size_t was_left = std::exchange(left, 0);
        const std::string budget = std::to_string(options.metadata_values) + " values";
        throw CheckpointError(candidate.string(),
                              was_left == 0
                                  ? "left out of the listing unread: its budget of " + budget +
                                        " is spent (a smaller page has a budget of its own)"
                                  : "left out of the listing: its metadata hold more values than the " +
                                        std::to_string(was_left) + " left of its budget of " + budget +
                                        " (a smaller page has a budget of its own)");
      }
      left -= opened->metadata_values;
      CheckpointInfo info = describe(candidate, std::move(opened->metadata), opened->status);
      check_named(info, candidate);
      page.checkpoints.push_back(std::move(info));
    } catch (const CheckpointError& e) {
      std::error_code gone;
      if (!fs::exists(candidate, gone) && !gone) continue;  // removed since the directory was read
      if (!options.skip_damaged) throw;
      page.damaged.push_back(e);
    }
  }
  return page;
}

}  // namespace torchsystem
