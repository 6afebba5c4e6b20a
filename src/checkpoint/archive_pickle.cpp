// A walk over a pickle (archive_pickle.hpp) that keeps the unpickler's stack and memo, with values
// reduced to what the checks need: strings, integers, tuples of them, storages with their number of
// elements; everything else is opaque.
#include "archive_pickle.hpp"

#include "pickle.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace torchsystem::checkpoint_detail {
namespace {

struct Value;
/// Values are shared, never copied: a memoized tuple recalled many times costs one pointer a recall.
using Ref = std::shared_ptr<const Value>;

struct Value {
  enum class Kind { opaque, mark, text, integer, tuple, storage };
  Kind kind = Kind::opaque;
  std::string text;          // text; a GLOBAL as "module.name"
  std::int64_t integer = 0;  // integer; a storage's number of elements
  std::vector<Ref> items;    // tuple

  static Value of_text(std::string text) { return {Kind::text, std::move(text), 0, {}}; }
  static Value of_integer(std::int64_t integer) { return {Kind::integer, {}, integer, {}}; }
  bool is_text(std::string_view expected) const { return kind == Kind::text && text == expected; }
};

/// Bytes per element of the storage types LibTorch writes (`torch.<Type>Storage`), as torch.save's.
std::optional<std::uint64_t> element_size(std::string_view global) {
  if (!global.starts_with("torch.")) return std::nullopt;
  return storage_element_size(global.substr(6));
}

std::uint64_t little_endian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t index = bytes.size(); index-- > 0;)
    value = value << 8 | static_cast<unsigned char>(bytes[index]);
  return value;
}

/// Why the walk stopped: a fault to report, or an input LibTorch refuses by itself.
struct Stop {
  std::string fault;
};

class Walk {
 public:
  Walk(std::string_view pickle, const StorageRecordSize& storage_record_size)
      : pickle_(pickle), storage_record_size_(storage_record_size) {}

  std::string run() {
    try {
      while (at_ < pickle_.size()) {
        if (!step()) return {};
      }
    } catch (const Stop& stop) {
      return stop.fault;
    }
    return {};
  }

 private:
  /// Executes the opcode at `at_`; false at STOP. One line an opcode (or a group of opcodes alike),
  /// named by pickle's own names, hence no clang-format here.
  bool step() {
    offset_ = at_;
    opcode_ = static_cast<unsigned char>(pickle_[at_++]);
    // clang-format off
    switch (opcode_) {
      case '.': return false;                                                   // STOP
      case 0x80: bytes(1); return true;                                         // PROTO
      case 0x95: bytes(8); return true;                                         // FRAME
      case '(': push(Value{Value::Kind::mark, {}, 0, {}}); return true;         // MARK
      case 'N': case 0x88: case 0x89: case ')': case ']': case '}':             // NONE, NEWTRUE, NEWFALSE,
        push(Value{}); return true;                                             // EMPTY_TUPLE, _LIST, _DICT
      case 'G': bytes(8); push(Value{}); return true;                           // BINFLOAT
      case 'K': push(integer(bytes(1))); return true;                           // BININT1
      case 'M': push(integer(bytes(2))); return true;                           // BININT2
      case 'J': push(Value::of_integer(static_cast<std::int32_t>(little_endian(bytes(4))))); return true;  // BININT
      case 0x8a: push(long1(counted(1))); return true;                          // LONG1
      case 'X': push(Value::of_text(std::string(counted(4)))); return true;     // BINUNICODE
      case 0x8c: case 'U': push(Value::of_text(std::string(counted(1)))); return true;  // SHORT_BINUNICODE, SHORT_BINSTRING
      case 0x8d: push(Value::of_text(std::string(counted(8)))); return true;    // BINUNICODE8
      case 'C': counted(1); push(Value{}); return true;                         // SHORT_BINBYTES
      case 'T': case 'B': counted(4); push(Value{}); return true;               // BINSTRING, BINBYTES
      case 0x8e: counted(8); push(Value{}); return true;                        // BINBYTES8
      case 'c': push(Value::of_text(global())); return true;                    // GLOBAL
      case 'q': memoize(little_endian(bytes(1))); return true;                  // BINPUT
      case 'r': memoize(little_endian(bytes(4))); return true;                  // LONG_BINPUT
      case 0x94: memoize(memo_.size()); return true;                            // MEMOIZE
      case 'h': recall(little_endian(bytes(1))); return true;                   // BINGET
      case 'j': recall(little_endian(bytes(4))); return true;                   // LONG_BINGET
      case 't': push(tuple(pop_to_mark())); return true;                        // TUPLE
      case 0x85: case 0x86: case 0x87: push(tuple(pop_many(opcode_ - 0x84U))); return true;  // TUPLE1, 2, 3
      case 'l': case 'd': pop_to_mark(); push(Value{}); return true;            // LIST, DICT
      case 'e': case 'u': case '1': pop_to_mark(); return true;                 // APPENDS, SETITEMS, POP_MARK
      case 'a': case 'b': case '0': pop(); return true;                         // APPEND, BUILD, POP
      case 's': pop_many(2); return true;                                       // SETITEM
      case '2': push(top()); return true;                                       // DUP
      case 0x81: pop_many(2); push(Value{}); return true;                       // NEWOBJ
      case 'R': reduce(); return true;                                          // REDUCE
      case 'Q': persistent_id(); return true;                                   // BINPERSID
      default: throw Stop{fault("is not one LibTorch's archives hold")};
    }
    // clang-format on
  }

  static Value integer(std::string_view data) {
    return Value::of_integer(static_cast<std::int64_t>(little_endian(data)));
  }

  std::string fault(const std::string& what) const {
    static constexpr char digits[] = "0123456789abcdef";
    const std::string name = {'0', 'x', digits[opcode_ >> 4], digits[opcode_ & 15]};
    return "its opcode " + name + " at byte " + std::to_string(offset_) + " " + what;
  }

  /// The next `count` bytes; a truncated argument is LibTorch's to report.
  std::string_view bytes(std::size_t count) {
    if (pickle_.size() - at_ < count) throw Stop{};
    const std::string_view taken = pickle_.substr(at_, count);
    at_ += count;
    return taken;
  }

  /// A length of `size` bytes, then that many bytes, which must lie within the pickle: LibTorch
  /// allocates the length before it reads.
  std::string_view counted(std::size_t size) {
    const std::uint64_t length = little_endian(bytes(size));
    const std::size_t remaining = pickle_.size() - at_;
    if (length > remaining) {
      throw Stop{fault("announces " + std::to_string(length) + " bytes where " + std::to_string(remaining) +
                       " remain")};
    }
    return bytes(static_cast<std::size_t>(length));
  }

  std::string global() {
    const std::size_t module_end = pickle_.find('\n', at_);
    const std::size_t name_end =
        module_end == std::string_view::npos ? module_end : pickle_.find('\n', module_end + 1);
    if (name_end == std::string_view::npos) throw Stop{};
    std::string name = std::string(pickle_.substr(at_, module_end - at_)) + "." +
                       std::string(pickle_.substr(module_end + 1, name_end - module_end - 1));
    at_ = name_end + 1;
    return name;
  }

  static Value long1(std::string_view digits) {
    if (digits.size() > 8) return {};
    std::uint64_t value = little_endian(digits);
    if (!digits.empty() && digits.size() < 8 && (static_cast<unsigned char>(digits.back()) & 0x80) != 0)
      value |= ~std::uint64_t{0} << (8 * digits.size());  // sign extension
    return Value::of_integer(static_cast<std::int64_t>(value));
  }

  static Value tuple(std::vector<Ref> items) { return {Value::Kind::tuple, {}, 0, std::move(items)}; }

  void push(Value value) { stack_.push_back(std::make_shared<const Value>(std::move(value))); }
  void push(Ref value) { stack_.push_back(std::move(value)); }

  const Ref& top() const {
    if (stack_.empty()) throw Stop{};
    return stack_.back();
  }

  Ref pop() {
    Ref value = top();
    stack_.pop_back();
    return value;
  }

  std::vector<Ref> pop_many(std::size_t count) {
    if (stack_.size() < count) throw Stop{};
    std::vector<Ref> items(stack_.end() - static_cast<std::ptrdiff_t>(count), stack_.end());
    stack_.resize(stack_.size() - count);
    return items;
  }

  std::vector<Ref> pop_to_mark() {
    for (std::size_t index = stack_.size(); index-- > 0;) {
      if (stack_[index]->kind != Value::Kind::mark) continue;
      std::vector<Ref> items = pop_many(stack_.size() - index - 1);
      stack_.pop_back();
      return items;
    }
    throw Stop{};
  }

  /// LibTorch grows its memo table to the index, 16 bytes an entry.
  void memoize(std::uint64_t index) {
    if (index >= pickle_.size()) {
      throw Stop{fault("stores memo entry " + std::to_string(index) + " of a pickle of " +
                       std::to_string(pickle_.size()) + " bytes")};
    }
    memo_[index] = top();
  }

  void recall(std::uint64_t index) {
    const auto found = memo_.find(index);
    if (found == memo_.end()) throw Stop{};
    push(found->second);
  }

  /// ('storage', torch.<Type>Storage, key, location, number of elements): the record `data/<key>` must
  /// hold that many elements, since LibTorch takes the number as the storage's size.
  void persistent_id() {
    const Ref reference = pop();
    const auto& items = reference->items;
    if (reference->kind != Value::Kind::tuple || items.size() != 5 || !items[0]->is_text("storage") ||
        items[1]->kind != Value::Kind::text || items[2]->kind != Value::Kind::text ||
        items[4]->kind != Value::Kind::integer || items[4]->integer < 0)
      throw Stop{fault("is a storage reference of a form LibTorch's archives do not write")};
    const std::string& type = items[1]->text;
    const std::string& key = items[2]->text;
    const auto size = element_size(type);
    if (!size) throw Stop{fault("refers to a storage of type " + type)};
    const auto record = storage_record_size_(key);
    if (!record) throw Stop{fault("refers to storage '" + key + "', which has no record")};
    const auto elements = static_cast<std::uint64_t>(items[4]->integer);
    if (elements > *record / *size) {
      throw Stop{fault("gives storage '" + key + "' " + std::to_string(elements) + " elements of " +
                       std::to_string(*size) + " bytes, where its record has " + std::to_string(*record) +
                       " bytes")};
    }
    push(Value{Value::Kind::storage, {}, items[4]->integer, {}});
  }

  void reduce() {
    const Ref arguments = pop();
    const Ref callable = pop();
    push(Value{});
    if (callable->kind != Value::Kind::text || !callable->text.starts_with("torch._utils._rebuild_")) return;
    if (callable->text != "torch._utils._rebuild_tensor_v2")
      throw Stop{fault("rebuilds a tensor with " + callable->text + ", which the store never writes")};
    check_tensor(*arguments);
  }

  /// (storage, offset, sizes, strides, ...): the last element the tensor reaches must be in the storage.
  void check_tensor(const Value& arguments) {
    const auto& items = arguments.items;
    const bool shaped = arguments.kind == Value::Kind::tuple && items.size() >= 4 &&
                        items[0]->kind == Value::Kind::storage && items[1]->kind == Value::Kind::integer &&
                        items[2]->kind == Value::Kind::tuple && items[3]->kind == Value::Kind::tuple &&
                        items[2]->items.size() == items[3]->items.size();
    if (!shaped)
      throw Stop{fault("rebuilds a tensor from arguments of a form LibTorch's archives do not write")};
    const auto out_of_range = [&] { return Stop{fault("rebuilds a tensor that reaches past its storage")}; };
    const auto& sizes = items[2]->items;
    const auto& strides = items[3]->items;
    bool empty = false;
    for (std::size_t dimension = 0; dimension < sizes.size(); ++dimension) {
      const Value& size = *sizes[dimension];
      const Value& stride = *strides[dimension];
      if (size.kind != Value::Kind::integer || stride.kind != Value::Kind::integer || size.integer < 0 ||
          stride.integer < 0)
        throw out_of_range();
      empty |= size.integer == 0;
    }
    if (empty) return;  // no element: nothing is read
    // The last element reached, kept below the storage's size at every step, so nothing overflows.
    const auto elements = static_cast<std::uint64_t>(items[0]->integer);
    if (items[1]->integer < 0 || static_cast<std::uint64_t>(items[1]->integer) >= elements)
      throw out_of_range();
    auto last = static_cast<std::uint64_t>(items[1]->integer);
    for (std::size_t dimension = 0; dimension < sizes.size(); ++dimension) {
      const auto steps = static_cast<std::uint64_t>(sizes[dimension]->integer - 1);
      const auto stride = static_cast<std::uint64_t>(strides[dimension]->integer);
      if (steps == 0 || stride == 0) continue;
      if (steps > (elements - 1 - last) / stride) throw out_of_range();
      last += steps * stride;
    }
  }

  std::string_view pickle_;
  const StorageRecordSize& storage_record_size_;
  std::size_t at_ = 0;
  std::size_t offset_ = 0;
  unsigned char opcode_ = 0;
  std::vector<Ref> stack_;
  std::unordered_map<std::uint64_t, Ref> memo_;
};

}  // namespace

std::string pickle_fault(std::string_view pickle, const StorageRecordSize& storage_record_size) {
  return Walk(pickle, storage_record_size).run();
}

}  // namespace torchsystem::checkpoint_detail
