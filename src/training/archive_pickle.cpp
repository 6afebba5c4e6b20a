// A walk over a pickle's opcodes (archive_pickle.hpp): each opcode's argument is skipped by its encoding
// in Python's pickle protocols 0 to 5, and the arguments that size memory are checked on the way.
#include "archive_pickle.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace torchsystem::training_detail {
namespace {

/// How an opcode's argument is laid out.
enum class Argument {
  none,        // MARK, TUPLE, REDUCE, ...
  fixed,       // `size` bytes: BININT, BINFLOAT, BINGET, ...
  memo_index,  // `size` bytes, little-endian: BINPUT, LONG_BINPUT
  counted,     // a little-endian length of `size` bytes, then that many bytes: BINUNICODE, ...
  line,        // up to a line break: INT, GET, ...
  two_lines,   // GLOBAL, INST
  unknown,     // not an opcode of any protocol
};

struct Layout {
  Argument argument = Argument::unknown;
  std::size_t size = 0;
};

/// The opcodes of Python's pickle protocols 0 to 5, grouped by the layout of their argument.
struct Group {
  std::string_view opcodes;
  Layout layout;
};
constexpr Group groups[] = {
    {"(.012NQRabd}el]ost)u\x81\x85\x86\x87\x88\x89\x8f\x90\x91\x92\x93\x94\x97\x98", {Argument::none, 0}},
    {"Kh\x80\x82", {Argument::fixed, 1}},
    {"M\x83", {Argument::fixed, 2}},
    {"Jj\x84", {Argument::fixed, 4}},
    {"G\x95", {Argument::fixed, 8}},
    {"q", {Argument::memo_index, 1}},
    {"r", {Argument::memo_index, 4}},
    {"UC\x8a\x8c", {Argument::counted, 1}},
    {"TXB\x8b", {Argument::counted, 4}},
    {"\x8d\x8e\x96", {Argument::counted, 8}},
    {"FILPSVgp", {Argument::line, 0}},
    {"ci", {Argument::two_lines, 0}},
};

Layout layout_of(unsigned char opcode) {
  for (const Group& group : groups) {
    if (group.opcodes.find(static_cast<char>(opcode)) != std::string_view::npos) return group.layout;
  }
  return {};
}

std::uint64_t little_endian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t index = bytes.size(); index-- > 0;)
    value = value << 8 | static_cast<unsigned char>(bytes[index]);
  return value;
}

std::string opcode_fault(unsigned char opcode, std::size_t offset, const std::string& what) {
  static constexpr char digits[] = "0123456789abcdef";
  const std::string name = {'0', 'x', digits[opcode >> 4], digits[opcode & 15]};
  return "its opcode " + name + " at byte " + std::to_string(offset) + " " + what;
}

}  // namespace

std::string pickle_fault(std::string_view pickle) {
  std::size_t at = 0;
  while (at < pickle.size()) {
    const std::size_t offset = at;
    const auto opcode = static_cast<unsigned char>(pickle[at++]);
    if (opcode == '.') return {};  // STOP: nothing after it is read
    const Layout layout = layout_of(opcode);
    const std::string_view rest = pickle.substr(at);
    switch (layout.argument) {
      case Argument::unknown:
        return {};
      case Argument::none:
        continue;
      case Argument::fixed:
        at += layout.size;
        continue;
      case Argument::memo_index: {
        if (rest.size() < layout.size) return {};
        const std::uint64_t index = little_endian(rest.substr(0, layout.size));
        if (index >= pickle.size()) {
          return opcode_fault(opcode, offset,
                              "stores memo entry " + std::to_string(index) + " of a pickle of " +
                                  std::to_string(pickle.size()) + " bytes");
        }
        at += layout.size;
        continue;
      }
      case Argument::counted: {
        if (rest.size() < layout.size) return {};
        const std::uint64_t length = little_endian(rest.substr(0, layout.size));
        if (length > rest.size() - layout.size) {
          return opcode_fault(opcode, offset,
                              "announces " + std::to_string(length) + " bytes where " +
                                  std::to_string(rest.size() - layout.size) + " remain");
        }
        at += layout.size + static_cast<std::size_t>(length);
        continue;
      }
      case Argument::line:
      case Argument::two_lines: {
        std::size_t end = pickle.find('\n', at);
        if (end != std::string_view::npos && layout.argument == Argument::two_lines)
          end = pickle.find('\n', end + 1);
        if (end == std::string_view::npos) return {};
        at = end + 1;
        continue;
      }
    }
  }
  return {};
}

}  // namespace torchsystem::training_detail
