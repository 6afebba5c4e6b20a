// The pickles inside a checkpoint, checked before LibTorch unpickles them.
//
// A LibTorch archive keeps its objects as Python pickles (`data.pkl`, `constants.pkl`, `*.debug_pkl`).
// LibTorch 1.13's unpickler sizes memory from numbers in the pickle before it checks them against the
// data: a memo index (LONG_BINPUT) grows its memo table to that index, 16 bytes an entry, so five bytes
// can ask for 64 GB; a string's length is allocated before the string is read. A damaged or crafted file
// whose CRCs match could so exhaust memory. Every number that sizes memory is bounded here by the size of
// the pickle itself, which any pickle LibTorch writes satisfies: its memo indices count up from zero, one
// a memoized object, and its strings lie inside the pickle.
//
// This file is plain C++, so the check is tested without LibTorch.
#pragma once

#include <string>
#include <string_view>

namespace torchsystem::training_detail {

/// Empty when no opcode of `pickle` asks for memory beyond what the pickle's size allows: every memo
/// index (BINPUT, LONG_BINPUT) below the pickle's size, every length-prefixed string or byte string
/// within the pickle. Otherwise the reason, naming the opcode and its byte offset. The walk ends at STOP
/// and at an opcode LibTorch does not read (which LibTorch refuses); a truncated argument is left to
/// LibTorch, which reports it.
std::string pickle_fault(std::string_view pickle);

}  // namespace torchsystem::training_detail
