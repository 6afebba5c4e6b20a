// The subset of Python's pickle that `torch.save` writes, read and written without Python or LibTorch.
//
// A `.pth` checkpoint is a zip file whose `data.pkl` pickles a tree of plain containers and scalars with
// tensors at the leaves; each tensor refers to a storage, a record `data/<key>` of raw little-endian
// elements. LibTorch 1.13's own unpickler cannot read what Python writes (OrderedDict, SETITEM, APPEND,
// BUILD), and `torch::pickle_save` wraps every container in a type tag that PyTorch's weights-only
// unpickler refuses. So the store reads and writes the pickle itself:
// - the writer emits protocol 2, as `torch.save` does, using only globals that PyTorch's weights-only
//   unpickler allows: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and the storage types;
// - the reader accepts the opcodes of protocols 2 to 4 that such pickles use and exactly those globals
//   (plus `torch._utils._rebuild_parameter`); anything else is refused with the opcode and its offset. It
//   never executes code: a global is a name looked up in a fixed table.
//
// Both work on a `PyTree`: nodes live in an arena, so a hostile pickle that shares or nests containers
// cannot make destruction recurse or leak; code that walks a tree bounds its depth (`max_depth`).
//
// This file is plain C++ (no LibTorch), so the reader is tested and fuzzed on its own.
#pragma once

#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torchsystem/json.hpp"

namespace torchsystem::checkpoint_detail {

/// How deep a walk over a tree may go: a state dict nests four levels; a pickle nesting deeper is refused.
inline constexpr int max_depth = 64;

/// How many values one tree may become as JSON: a training history of a million epochs fits.
inline constexpr std::size_t max_json_values = 1'000'000;

/// How many values (nodes) a read pickle may make, about 500 MB of tree: a state dict takes some twenty a
/// tensor, so this is room for some hundred thousand tensors, and a hostile pickle of any size (a record may
/// be 1 GiB) cannot make more.
inline constexpr std::size_t max_pickle_nodes = 2'000'000;

/// A tensor as the pickle describes it: a view of a storage.
struct PyTensor {
  std::string storage_key;          ///< the record `data/<key>`
  std::string storage_type;         ///< "FloatStorage", "LongStorage", ...
  std::uint64_t storage_numel = 0;  ///< the storage's number of elements
  std::int64_t offset = 0;          ///< in elements
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides;
  bool requires_grad = false;
};

struct PyNode {
  // `global` (a class or function named by the pickle) and `storage` (a persistent id) only appear while
  // a pickle is read, as arguments of the calls that consume them; walkers treat them as faults.
  enum class Kind { none, boolean, integer, floating, string, tuple, list, dict, tensor, global, storage };
  Kind kind = Kind::none;
  bool boolean = false;
  std::int64_t integer = 0;
  double floating = 0;
  std::string string;                                ///< string; a global's `module.name`
  std::vector<PyNode*> items;                        ///< tuple, list
  std::vector<std::pair<PyNode*, PyNode*>> entries;  ///< dict, in insertion order
  bool ordered = false;                              ///< a collections.OrderedDict
  PyTensor tensor;                                   ///< tensor; a storage's key, type and numel

  /// The value of `key` in a dict with string keys, or nullptr.
  const PyNode* find(std::string_view key) const;
};

/// Owns every node it makes; nodes refer to each other by plain pointers.
class PyTree {
 public:
  PyNode* none() { return make(PyNode::Kind::none); }
  PyNode* boolean(bool value);
  PyNode* integer(std::int64_t value);
  PyNode* floating(double value);
  PyNode* string(std::string value);
  PyNode* tuple(std::vector<PyNode*> items = {});
  PyNode* list(std::vector<PyNode*> items = {});
  PyNode* dict(bool ordered = false);
  PyNode* tensor(PyTensor tensor);
  /// Adds `key: value` to a dict (no check for an existing key: callers build dicts of distinct keys).
  static void set(PyNode* dict, PyNode* key, PyNode* value) { dict->entries.emplace_back(key, value); }
  void set(PyNode* dict, std::string key, PyNode* value) { set(dict, string(std::move(key)), value); }

  /// How many nodes the tree holds.
  std::size_t size() const noexcept { return nodes_.size(); }

  PyNode* root = nullptr;
  /// The storages a read pickle refers to: key -> (type, number of elements).
  std::map<std::string, std::pair<std::string, std::uint64_t>> storages;

 private:
  PyNode* make(PyNode::Kind kind);
  std::deque<PyNode> nodes_;
};

/// "torch.save" type names: the element size of each storage type, or nullopt for an unknown one.
std::optional<std::uint64_t> storage_element_size(std::string_view storage_type);

/// Protocol 2, as `torch.save` writes it. Tensors become persistent ids ('storage', torch.<Type>,
/// key, 'cpu', numel); the caller writes each storage's record.
std::string pickle_dump(const PyTree& tree);

/// The size in bytes of the record `data/<key>`, or nullopt when the archive has none.
using StorageSize = std::function<std::optional<std::uint64_t>(std::string_view key)>;

/// Reads a pickle written by `torch.save` (or by pickle_dump). Throws PickleError naming the opcode and
/// its offset for anything outside the subset; every storage must exist with the size its elements take
/// (`storage_size`), and every tensor must lie within its storage.
PyTree pickle_load(std::string_view pickle, const StorageSize& storage_size);

/// A fault of a pickle; the store turns it into a CheckpointError naming the file.
class PickleError : public std::exception {
 public:
  explicit PickleError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

/// A tree that would become more JSON values than allowed.
class ValueLimitError : public PickleError {
 public:
  using PickleError::PickleError;
};

/// Plain data (metadata) into a tree and back: objects become dicts with str keys, arrays lists. Throws
/// PickleError for what the other side cannot hold (an integer beyond 64 bits, a tensor, a non-str key,
/// `max_depth` levels), and ValueLimitError for more than `limit` values: a node the pickle shares counts
/// each time it is met, as JSON copies it. `values`, when given, is set to how many values the JSON holds.
PyNode* from_json(PyTree& tree, const Json& value);
Json to_json(const PyNode* node, std::size_t* values = nullptr, std::size_t limit = max_json_values);

/// The node as JSON-like text for messages: `a dict`, `the int 3`, `the str "x"`.
std::string describe(const PyNode* node);

}  // namespace torchsystem::checkpoint_detail
