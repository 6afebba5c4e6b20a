// Writing the pickles of `torch.save` (pickle.hpp): protocol 2, as torch.save writes them.
#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "pickle.hpp"
#include "pickle_opcodes.hpp"

namespace torchsystem::checkpoint_detail {
namespace {

class Writer {
 public:
  std::string run(const PyNode* root) {
    out_ += op::proto;
    out_ += '\x02';
    write(root, 0);
    out_ += op::stop;
    return std::move(out_);
  }

 private:
  void little(std::uint64_t value, int bytes) {
    for (int index = 0; index < bytes; ++index) out_ += static_cast<char>((value >> (8 * index)) & 0xff);
  }

  void integer(std::int64_t value) {
    if (value >= 0 && value < 256) {
      out_ += op::binint1;
      little(static_cast<std::uint64_t>(value), 1);
    } else if (value >= 0 && value < 65536) {
      out_ += op::binint2;
      little(static_cast<std::uint64_t>(value), 2);
    } else if (value >= std::numeric_limits<std::int32_t>::min() &&
               value <= std::numeric_limits<std::int32_t>::max()) {
      out_ += op::binint;
      little(static_cast<std::uint64_t>(value), 4);
    } else {
      out_ += op::long1;
      out_ += '\x08';
      little(static_cast<std::uint64_t>(value), 8);
    }
  }

  void string(std::string_view text) {
    out_ += op::binunicode;
    little(text.size(), 4);
    out_ += text;
  }

  /// GLOBAL once, then memo lookups, as Python's pickler does for repeated globals.
  void global(const std::string& module, const std::string& name) {
    const std::string key = module + "." + name;
    if (const auto found = globals_.find(key); found != globals_.end()) {
      out_ += op::binget;
      little(found->second, 1);
      return;
    }
    out_ += op::global;
    out_ += module + "\n" + name + "\n";
    if (globals_.size() < 256) {
      const auto index = globals_.size();
      globals_.emplace(key, index);
      out_ += op::binput;
      little(index, 1);
    }
  }

  void items(const std::vector<PyNode*>& values, int depth) {
    for (const PyNode* value : values) write(value, depth + 1);
  }

  void tensor(const PyTensor& tensor) {
    global("torch._utils", "_rebuild_tensor_v2");
    out_ += op::mark;
    out_ += op::mark;
    string("storage");
    global("torch", tensor.storage_type);
    string(tensor.storage_key);
    string("cpu");
    integer(static_cast<std::int64_t>(tensor.storage_numel));
    out_ += op::tuple;
    out_ += op::binpersid;
    integer(tensor.offset);
    for (const auto* values : {&tensor.sizes, &tensor.strides}) {
      out_ += op::mark;
      for (const std::int64_t value : *values) integer(value);
      out_ += op::tuple;
    }
    out_ += tensor.requires_grad ? op::newtrue : op::newfalse;
    global("collections", "OrderedDict");  // the backward hooks, empty
    out_ += op::empty_tuple;
    out_ += op::reduce;
    out_ += op::tuple;
    out_ += op::reduce;
  }

  void write(const PyNode* node, int depth) {
    if (depth > max_depth)
      throw PickleError("the tree to pickle nests deeper than " + std::to_string(max_depth));
    switch (node->kind) {
      case PyNode::Kind::none:
        out_ += op::none;
        return;
      case PyNode::Kind::boolean:
        out_ += node->boolean ? op::newtrue : op::newfalse;
        return;
      case PyNode::Kind::integer:
        integer(node->integer);
        return;
      case PyNode::Kind::floating:
        out_ += op::binfloat;
        for (int shift = 56; shift >= 0; shift -= 8)
          out_ += static_cast<char>((std::bit_cast<std::uint64_t>(node->floating) >> shift) & 0xff);
        return;
      case PyNode::Kind::string:
        string(node->string);
        return;
      case PyNode::Kind::tuple:
        if (node->items.empty()) {
          out_ += op::empty_tuple;
          return;
        }
        out_ += op::mark;
        items(node->items, depth);
        out_ += op::tuple;
        return;
      case PyNode::Kind::list:
        out_ += op::empty_list;
        if (node->items.empty()) return;
        out_ += op::mark;
        items(node->items, depth);
        out_ += op::appends;
        return;
      case PyNode::Kind::dict:
        if (node->ordered) {
          global("collections", "OrderedDict");
          out_ += op::empty_tuple;
          out_ += op::reduce;
        } else {
          out_ += op::empty_dict;
        }
        if (node->entries.empty()) return;
        out_ += op::mark;
        for (const auto& [key, value] : node->entries) {
          write(key, depth + 1);
          write(value, depth + 1);
        }
        out_ += op::setitems;
        return;
      case PyNode::Kind::tensor:
        tensor(node->tensor);
        return;
      case PyNode::Kind::global:
      case PyNode::Kind::storage:
        throw PickleError("a global or a storage cannot be pickled on its own");
    }
  }

  std::string out_;
  std::map<std::string, std::uint64_t> globals_;
};

}  // namespace

std::string pickle_dump(const PyTree& tree) {
  if (tree.root == nullptr) throw PickleError("nothing to pickle");
  return Writer().run(tree.root);
}

}  // namespace torchsystem::checkpoint_detail
