// Reading and writing the pickles of `torch.save` (pickle.hpp). Opcode names are Python's own
// (Lib/pickle.py).
#include "pickle.hpp"
#include "pickle_opcodes.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>

#include "torchsystem/json.hpp"

namespace torchsystem::checkpoint_detail {
namespace {

constexpr std::string_view rebuild_tensor = "torch._utils._rebuild_tensor_v2";
constexpr std::string_view rebuild_parameter = "torch._utils._rebuild_parameter";
constexpr std::string_view ordered_dict = "collections.OrderedDict";

const std::map<std::string_view, std::uint64_t>& storage_sizes() {
  static const std::map<std::string_view, std::uint64_t> sizes = {
      {"FloatStorage", 4},       {"DoubleStorage", 8},       {"HalfStorage", 2},
      {"BFloat16Storage", 2},    {"LongStorage", 8},         {"IntStorage", 4},
      {"ShortStorage", 2},       {"CharStorage", 1},         {"ByteStorage", 1},
      {"BoolStorage", 1},        {"ComplexFloatStorage", 8}, {"ComplexDoubleStorage", 16},
      {"ComplexHalfStorage", 4},
  };
  return sizes;
}

/// The globals a pickle may name: nothing else is ever looked up.
bool allowed_global(std::string_view name) {
  if (name == rebuild_tensor || name == rebuild_parameter || name == ordered_dict) return true;
  return name.starts_with("torch.") && storage_sizes().contains(name.substr(6));
}

std::string printable(std::string_view text, std::size_t limit = 60) {
  std::string out = "\"";
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      static constexpr char digits[] = "0123456789abcdef";
      out += "\\x";
      out += digits[byte >> 4];
      out += digits[byte & 0xf];
    }
  }
  out.append(text.size() > limit ? "\"..." : "\"");
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Reading.

class Reader {
 public:
  Reader(std::string_view pickle, const StorageSize& storage_size)
      : pickle_(pickle), storage_size_(storage_size) {}

  PyTree run() {
    while (true) {
      if (at_ >= pickle_.size()) {
        opcode_at_ = at_;
        fail("the pickle ends without STOP");
      }
      opcode_at_ = at_;
      const char code = pickle_[at_++];
      if (code == op::stop) break;
      step(code);
      if (tree_.size() > max_pickle_nodes)
        fail("the pickle makes more than " + std::to_string(max_pickle_nodes) + " values");
    }
    if (stack_.size() != 1 || stack_.back() == nullptr)
      fail("STOP with " + std::to_string(stack_.size()) + " values on the stack, not one");
    if (at_ != pickle_.size()) fail("bytes follow STOP");
    tree_.root = stack_.back();
    tree_.storages = std::move(storages_);
    return std::move(tree_);
  }

 private:
  [[noreturn]] void fail(const std::string& reason) const {
    throw PickleError(reason + " (at byte " + std::to_string(opcode_at_) + ")");
  }

  std::string_view take(std::uint64_t size) {
    if (size > pickle_.size() - at_) fail("an argument runs past the end of the pickle");
    const std::string_view bytes = pickle_.substr(at_, static_cast<std::size_t>(size));
    at_ += static_cast<std::size_t>(size);
    return bytes;
  }
  std::uint64_t unsigned_le(std::size_t size) {
    const std::string_view bytes = take(size);
    std::uint64_t value = 0;
    for (std::size_t index = size; index-- > 0;)
      value = value << 8 | static_cast<unsigned char>(bytes[index]);
    return value;
  }
  std::string_view line() {
    const std::size_t end = pickle_.find('\n', at_);
    if (end == std::string_view::npos) fail("GLOBAL without a line break");
    const std::string_view text = pickle_.substr(at_, end - at_);
    at_ = end + 1;
    return text;
  }

  void push(PyNode* node) { stack_.push_back(node); }
  PyNode* pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
      fail("an opcode needs a value and the stack has none");
    PyNode* node = stack_.back();
    stack_.pop_back();
    return node;
  }
  PyNode* top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back()))
      fail("an opcode needs a value and the stack has none");
    return stack_.back();
  }
  /// The values above the last MARK, which is removed.
  std::vector<PyNode*> pop_mark() {
    if (marks_.empty()) fail("no MARK to end");
    const std::size_t from = marks_.back();
    marks_.pop_back();
    std::vector<PyNode*> items(stack_.begin() + static_cast<std::ptrdiff_t>(from), stack_.end());
    stack_.resize(from);
    return items;
  }

  void memo_put(std::uint64_t index) {
    if (index > pickle_.size()) fail("memo index " + std::to_string(index) + " is larger than the pickle");
    memo_[index] = top();
  }
  void memo_get(std::uint64_t index) {
    const auto found = memo_.find(index);
    if (found == memo_.end()) fail("memo index " + std::to_string(index) + " was never stored");
    push(found->second);
  }

  PyNode* string_node(std::uint64_t size) { return tree_.string(std::string(take(size))); }

  void global(std::string name) {
    if (!allowed_global(name))
      fail("the global " + printable(name) + " is not one torch.save writes for tensors and containers");
    PyNode* node = tree_.none();
    node->kind = PyNode::Kind::global;
    node->string = std::move(name);
    push(node);
  }

  std::int64_t signed_le(std::string_view bytes) {
    if (bytes.empty()) return 0;
    if (bytes.size() > 8)
      fail("an integer of " + std::to_string(bytes.size()) + " bytes (more than 64 bits)");
    std::uint64_t value = 0;
    for (std::size_t index = bytes.size(); index-- > 0;)
      value = value << 8 | static_cast<unsigned char>(bytes[index]);
    const auto bits = static_cast<unsigned>(8 * bytes.size());
    if (bits < 64 && (value >> (bits - 1)) != 0) value |= ~std::uint64_t{0} << bits;  // sign extension
    return static_cast<std::int64_t>(value);
  }

  void step(char code) {
    switch (code) {
      case op::proto: {
        const auto version = unsigned_le(1);
        if (version < 2 || version > 5)
          fail("pickle protocol " + std::to_string(version) + " (2 to 5 are read)");
        return;
      }
      case op::frame:
        unsigned_le(8);
        return;  // framing only groups opcodes
      case op::mark:
        marks_.push_back(stack_.size());
        return;
      case op::none:
        push(tree_.none());
        return;
      case op::newtrue:
        push(tree_.boolean(true));
        return;
      case op::newfalse:
        push(tree_.boolean(false));
        return;
      case op::binint:
        push(tree_.integer(static_cast<std::int32_t>(unsigned_le(4))));
        return;
      case op::binint1:
        push(tree_.integer(static_cast<std::int64_t>(unsigned_le(1))));
        return;
      case op::binint2:
        push(tree_.integer(static_cast<std::int64_t>(unsigned_le(2))));
        return;
      case op::long1:
        push(tree_.integer(signed_le(take(unsigned_le(1)))));
        return;
      case op::binfloat: {
        std::uint64_t bits = 0;  // big-endian in the pickle
        for (const char byte : take(8)) bits = bits << 8 | static_cast<unsigned char>(byte);
        push(tree_.floating(std::bit_cast<double>(bits)));
        return;
      }
      case op::short_binunicode:
        push(string_node(unsigned_le(1)));
        return;
      case op::binunicode:
        push(string_node(unsigned_le(4)));
        return;
      case op::binunicode8:
        push(string_node(unsigned_le(8)));
        return;
      case op::empty_tuple:
        push(tree_.tuple());
        return;
      case op::tuple1:
      case op::tuple2:
      case op::tuple3: {
        const std::size_t count = static_cast<std::size_t>(code - op::tuple1) + 1;
        std::vector<PyNode*> items(count);
        for (std::size_t index = count; index-- > 0;) items[index] = pop();
        push(tree_.tuple(std::move(items)));
        return;
      }
      case op::tuple:
        push(tree_.tuple(pop_mark()));
        return;
      case op::empty_list:
        push(tree_.list());
        return;
      case op::empty_dict:
        push(tree_.dict());
        return;
      case op::append: {
        PyNode* value = pop();
        append(top(), {value});
        return;
      }
      case op::appends: {
        std::vector<PyNode*> values = pop_mark();
        append(top(), values);
        return;
      }
      case op::setitem: {
        PyNode* value = pop();
        PyNode* key = pop();
        set_items(top(), {key, value});
        return;
      }
      case op::setitems: {
        std::vector<PyNode*> items = pop_mark();
        set_items(top(), items);
        return;
      }
      case op::binput:
        memo_put(unsigned_le(1));
        return;
      case op::long_binput:
        memo_put(unsigned_le(4));
        return;
      case op::memoize:
        memo_put(memo_.size());
        return;
      case op::binget:
        memo_get(unsigned_le(1));
        return;
      case op::long_binget:
        memo_get(unsigned_le(4));
        return;
      case op::global: {
        std::string name(line());
        name += '.';
        name += line();
        global(std::move(name));
        return;
      }
      case op::stack_global: {
        PyNode* name = pop();
        PyNode* module = pop();
        if (module->kind != PyNode::Kind::string || name->kind != PyNode::Kind::string)
          fail("STACK_GLOBAL of values that are not strings");
        global(module->string + "." + name->string);
        return;
      }
      case op::binpersid:
        push(storage(pop()));
        return;
      case op::reduce: {
        PyNode* arguments = pop();
        PyNode* callable = pop();
        push(reduce(callable, arguments));
        return;
      }
      case op::build: {
        PyNode* state = pop();
        const PyNode* target = top();
        // An OrderedDict's attributes: state_dict() sets `_metadata` (the modules' versions), not needed
        // here.
        if (target->kind != PyNode::Kind::dict || !target->ordered || state->kind != PyNode::Kind::dict)
          fail("BUILD of something other than an OrderedDict's attributes");
        return;
      }
      default: {
        const auto byte = static_cast<unsigned char>(code);
        static constexpr char digits[] = "0123456789abcdef";
        fail(std::string("the opcode 0x") + digits[byte >> 4] + digits[byte & 0xf] +
             " is not one torch.save writes");
      }
    }
  }

  void append(PyNode* list, const std::vector<PyNode*>& values) {
    if (list->kind != PyNode::Kind::list) fail("APPEND to something other than a list");
    list->items.insert(list->items.end(), values.begin(), values.end());
  }

  void set_items(PyNode* dict, const std::vector<PyNode*>& items) {
    if (dict->kind != PyNode::Kind::dict) fail("SETITEM on something other than a dict");
    if (items.size() % 2 != 0) fail("SETITEMS with a key and no value");
    for (std::size_t index = 0; index < items.size(); index += 2) {
      const PyNode::Kind kind = items[index]->kind;
      if (kind != PyNode::Kind::string && kind != PyNode::Kind::integer)
        fail("a dict key that is neither a str nor an int");
      // Python keeps the last value of a repeated key, in the first key's place.
      const PyNode* key = items[index];
      std::string identity(1, kind == PyNode::Kind::string ? 's' : 'i');
      identity.append(kind == PyNode::Kind::string ? key->string : std::to_string(key->integer));
      auto& positions = dict_keys_[dict];
      const auto [found, inserted] = positions.emplace(std::move(identity), dict->entries.size());
      if (inserted) {
        PyTree::set(dict, items[index], items[index + 1]);
      } else {
        dict->entries[found->second].second = items[index + 1];
      }
    }
  }

  /// A persistent id: ('storage', torch.<Type>Storage, key, location, numel).
  PyNode* storage(const PyNode* id) {
    const auto& items = id->items;
    if (id->kind != PyNode::Kind::tuple || items.size() != 5 || items[0]->kind != PyNode::Kind::string ||
        items[0]->string != "storage" || items[1]->kind != PyNode::Kind::global ||
        items[2]->kind != PyNode::Kind::string || items[3]->kind != PyNode::Kind::string ||
        items[4]->kind != PyNode::Kind::integer)
      fail("a persistent id that is not a storage ('storage', type, key, location, size)");
    const std::string_view type = std::string_view(items[1]->string).substr(6);  // after "torch."
    const auto element = storage_element_size(type);
    if (!items[1]->string.starts_with("torch.") || !element)
      fail("a storage of the unknown type " + printable(items[1]->string));
    const std::string& key = items[2]->string;
    if (key.empty() || key.size() > 64 || key.find_first_of("/\\") != std::string::npos || key == "." ||
        key == "..")
      fail("the storage key " + printable(key) + " cannot name a record");
    if (items[4]->integer < 0) fail("storage " + printable(key) + " has a negative size");
    const auto numel = static_cast<std::uint64_t>(items[4]->integer);
    const auto record = storage_size_(key);
    if (!record) fail("storage " + printable(key) + " has no record data/" + key);
    if (numel > std::numeric_limits<std::uint64_t>::max() / *element || numel * *element != *record)
      fail("storage " + printable(key) + " of " + std::to_string(numel) + " elements of " +
           std::to_string(*element) + " bytes does not fit its record of " + std::to_string(*record) +
           " bytes");
    const auto [seen, inserted] = storages_.emplace(key, std::pair{std::string(type), numel});
    if (!inserted && seen->second != std::pair{std::string(type), numel})
      fail("storage " + printable(key) + " is referred to with two types or sizes");
    PyNode* node = tree_.none();
    node->kind = PyNode::Kind::storage;
    node->tensor.storage_key = key;
    node->tensor.storage_type = type;
    node->tensor.storage_numel = numel;
    return node;
  }

  static bool empty_hooks(const PyNode* hooks) {
    return hooks->kind == PyNode::Kind::dict && hooks->entries.empty();
  }

  std::vector<std::int64_t> int_tuple(const PyNode* node, const char* what) {
    if (node->kind != PyNode::Kind::tuple) fail(std::string("a tensor's ") + what + " is not a tuple");
    if (node->items.size() > 64) fail(std::string("a tensor's ") + what + " has more than 64 dimensions");
    std::vector<std::int64_t> values;
    for (const PyNode* item : node->items) {
      if (item->kind != PyNode::Kind::integer || item->integer < 0)
        fail(std::string("a tensor's ") + what + " holds something other than an int >= 0");
      values.push_back(item->integer);
    }
    return values;
  }

  PyNode* reduce(const PyNode* callable, const PyNode* arguments) {
    if (callable->kind != PyNode::Kind::global) fail("REDUCE of something other than a global");
    if (arguments->kind != PyNode::Kind::tuple) fail("REDUCE with arguments that are not a tuple");
    const auto& items = arguments->items;
    if (callable->string == ordered_dict) {
      if (!items.empty()) fail("OrderedDict called with arguments");
      return tree_.dict(true);
    }
    if (callable->string == rebuild_parameter) {
      if (items.size() != 3 || items[0]->kind != PyNode::Kind::tensor ||
          items[1]->kind != PyNode::Kind::boolean || !empty_hooks(items[2]))
        fail("_rebuild_parameter with arguments other than (tensor, requires_grad, {})");
      PyTensor tensor = items[0]->tensor;
      tensor.requires_grad = items[1]->boolean;
      return tree_.tensor(std::move(tensor));
    }
    if (callable->string == rebuild_tensor) return rebuild(items);
    fail("a call of " + printable(callable->string));
  }

  /// _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]).
  PyNode* rebuild(const std::vector<PyNode*>& items) {
    if ((items.size() != 6 && items.size() != 7) || items[0]->kind != PyNode::Kind::storage ||
        items[1]->kind != PyNode::Kind::integer || items[4]->kind != PyNode::Kind::boolean ||
        !empty_hooks(items[5]) ||
        (items.size() == 7 && items[6]->kind != PyNode::Kind::none && !empty_hooks(items[6])))
      fail("_rebuild_tensor_v2 with arguments other than (storage, offset, size, stride, requires_grad, {})");
    PyTensor tensor = items[0]->tensor;
    if (items[1]->integer < 0) fail("a tensor with a negative offset");
    tensor.offset = items[1]->integer;
    tensor.sizes = int_tuple(items[2], "size");
    tensor.strides = int_tuple(items[3], "stride");
    tensor.requires_grad = items[4]->boolean;
    if (tensor.sizes.size() != tensor.strides.size()) fail("a tensor whose size and stride differ in length");
    check_within_storage(tensor);
    return tree_.tensor(std::move(tensor));
  }

  /// The last element a view reads must lie in its storage; computed without overflow.
  void check_within_storage(const PyTensor& tensor) {
    for (const std::int64_t size : tensor.sizes) {
      if (size == 0) return;  // no element is read
    }
    auto last = static_cast<std::uint64_t>(tensor.offset);
    std::uint64_t elements = 1;
    for (std::size_t dim = 0; dim < tensor.sizes.size(); ++dim) {
      const auto size = static_cast<std::uint64_t>(tensor.sizes[dim]);
      std::uint64_t reach = 0;
      if (__builtin_mul_overflow(elements, size, &elements) ||
          __builtin_mul_overflow(size - 1, static_cast<std::uint64_t>(tensor.strides[dim]), &reach) ||
          __builtin_add_overflow(last, reach, &last) || elements > (std::uint64_t{1} << 62))
        fail("a tensor too large to address");
    }
    if (last >= tensor.storage_numel)
      fail("a tensor reaching past its storage " + printable(tensor.storage_key) + " of " +
           std::to_string(tensor.storage_numel) + " elements");
  }

  std::string_view pickle_;
  const StorageSize& storage_size_;
  std::size_t at_ = 0;
  std::size_t opcode_at_ = 0;
  PyTree tree_;
  std::vector<PyNode*> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, PyNode*> memo_;
  std::unordered_map<const PyNode*, std::unordered_map<std::string, std::size_t>> dict_keys_;
  std::map<std::string, std::pair<std::string, std::uint64_t>> storages_;
};

}  // namespace

const PyNode* PyNode::find(std::string_view key) const {
  if (kind != Kind::dict) return nullptr;
  for (const auto& [name, value] : entries) {
    if (name->kind == Kind::string && name->string == key) return value;
  }
  return nullptr;
}

PyNode* PyTree::make(PyNode::Kind kind) {
  PyNode& node = nodes_.emplace_back();
  node.kind = kind;
  return &node;
}

PyNode* PyTree::boolean(bool value) {
  PyNode* node = make(PyNode::Kind::boolean);
  node->boolean = value;
  return node;
}

PyNode* PyTree::integer(std::int64_t value) {
  PyNode* node = make(PyNode::Kind::integer);
  node->integer = value;
  return node;
}

PyNode* PyTree::floating(double value) {
  PyNode* node = make(PyNode::Kind::floating);
  node->floating = value;
  return node;
}

PyNode* PyTree::string(std::string value) {
  PyNode* node = make(PyNode::Kind::string);
  node->string = std::move(value);
  return node;
}

PyNode* PyTree::tuple(std::vector<PyNode*> items) {
  PyNode* node = make(PyNode::Kind::tuple);
  node->items = std::move(items);
  return node;
}

PyNode* PyTree::list(std::vector<PyNode*> items) {
  PyNode* node = make(PyNode::Kind::list);
  node->items = std::move(items);
  return node;
}

PyNode* PyTree::dict(bool ordered) {
  PyNode* node = make(PyNode::Kind::dict);
  node->ordered = ordered;
  return node;
}

PyNode* PyTree::tensor(PyTensor tensor) {
  PyNode* node = make(PyNode::Kind::tensor);
  node->tensor = std::move(tensor);
  return node;
}

std::optional<std::uint64_t> storage_element_size(std::string_view storage_type) {
  const auto& sizes = storage_sizes();
  const auto found = sizes.find(storage_type);
  if (found == sizes.end()) return std::nullopt;
  return found->second;
}

PyTree pickle_load(std::string_view pickle, const StorageSize& storage_size) {
  return Reader(pickle, storage_size).run();
}

namespace {

Json to_json_at(const PyNode* node, int depth, std::size_t& budget) {
  if (depth > max_depth) throw PickleError("a value nests deeper than " + std::to_string(max_depth));
  if (budget-- == 0) throw ValueLimitError("too many values");
  switch (node->kind) {
    case PyNode::Kind::none:
      return nullptr;
    case PyNode::Kind::boolean:
      return node->boolean;
    case PyNode::Kind::integer:
      return node->integer;
    case PyNode::Kind::floating:
      return node->floating;
    case PyNode::Kind::string:
      return node->string;
    case PyNode::Kind::tuple:
    case PyNode::Kind::list: {
      Json array = Json::array();
      for (const PyNode* item : node->items) array.push_back(to_json_at(item, depth + 1, budget));
      return array;
    }
    case PyNode::Kind::dict: {
      Json object = Json::object();
      for (const auto& [key, value] : node->entries) {
        if (key->kind != PyNode::Kind::string) throw PickleError("a dict with a key that is not a str");
        object[key->string] = to_json_at(value, depth + 1, budget);
      }
      return object;
    }
    default:
      throw PickleError(describe(node) + " where plain data (JSON) was expected");
  }
}

}  // namespace

PyNode* from_json(PyTree& tree, const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return tree.none();
    case Json::value_t::boolean:
      return tree.boolean(value.get<bool>());
    case Json::value_t::number_integer:
      return tree.integer(value.get<std::int64_t>());
    case Json::value_t::number_unsigned:
      if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw PickleError("the integer " + value.dump() +
                          " is larger than a checkpoint stores (64-bit signed)");
      return tree.integer(value.get<std::int64_t>());
    case Json::value_t::number_float:
      return tree.floating(value.get<double>());
    case Json::value_t::string:
      return tree.string(value.get<std::string>());
    case Json::value_t::array: {
      std::vector<PyNode*> items;
      for (const Json& item : value) items.push_back(from_json(tree, item));
      return tree.list(std::move(items));
    }
    case Json::value_t::object: {
      PyNode* dict = tree.dict();
      for (const auto& [key, item] : value.items()) tree.set(dict, key, from_json(tree, item));
      return dict;
    }
    default:
      throw PickleError("a JSON value of type " + std::string(value.type_name()) + " cannot be pickled");
  }
}

Json to_json(const PyNode* node, std::size_t* values, std::size_t limit) {
  std::size_t budget = limit;
  try {
    Json json = to_json_at(node, 0, budget);
    if (values != nullptr) *values = limit - budget;
    return json;
  } catch (const ValueLimitError&) {
    throw ValueLimitError("it holds more than " + std::to_string(limit) +
                          " values (shared ones counted each time)");
  }
}
std::string describe(const PyNode* node) {
  switch (node->kind) {
    case PyNode::Kind::none:
      return "None";
    case PyNode::Kind::boolean:
      return node->boolean ? "True" : "False";
    case PyNode::Kind::integer:
      return "the int " + std::to_string(node->integer);
    case PyNode::Kind::floating:
      return "a float";
    case PyNode::Kind::string:
      return "the str " + printable(node->string);
    case PyNode::Kind::tuple:
      return "a tuple of " + std::to_string(node->items.size());
    case PyNode::Kind::list:
      return "a list of " + std::to_string(node->items.size());
    case PyNode::Kind::dict:
      return "a dict of " + std::to_string(node->entries.size());
    case PyNode::Kind::tensor:
      return "a tensor";
    case PyNode::Kind::global:
      return "the global " + printable(node->string);
    case PyNode::Kind::storage:
      return "a storage";
  }
  return "a value";
}

}  // namespace torchsystem::checkpoint_detail
