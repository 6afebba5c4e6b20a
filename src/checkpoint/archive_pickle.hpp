// The pickles inside a checkpoint, checked before LibTorch unpickles them.
//
// A LibTorch archive keeps its objects as Python pickles (`data.pkl`, `constants.pkl`, `*.debug_pkl`),
// and LibTorch 1.13's unpickler trusts the numbers in them:
// - a memo index (LONG_BINPUT) grows its memo table to that index, 16 bytes an entry, so five bytes can
//   ask for 64 GB, and a string's announced length is allocated before the string is read;
// - a tensor is built from a storage reference (record `data/<key>`, element type, number of elements)
//   and an offset, sizes and strides, and none of them is checked against the record's size: a tensor
//   can point past its data, and reading it reads other memory or crashes.
// A damaged or crafted file whose CRCs match could so exhaust memory, load garbage or crash. This check
// walks each pickle as LibTorch's unpickler would, keeping the stack, and refuses such numbers first.
//
// This file is plain C++, so the check is tested without LibTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace torchsystem::checkpoint_detail {

/// The size in bytes of the archive's record `data/<key>`, or nullopt when it has none.
using StorageRecordSize = std::function<std::optional<std::uint64_t>(std::string_view key)>;

/// Empty when `pickle` is safe for LibTorch's unpickler:
/// - every memo index (BINPUT, LONG_BINPUT) is below the pickle's size, and every length-prefixed
///   string or byte string lies within the pickle (any pickle LibTorch writes satisfies both: its memo
///   indices count up from zero, one a memoized object);
/// - every storage reference (BINPERSID) names a record whose size holds its elements;
/// - every tensor (`torch._utils._rebuild_tensor_v2`) lies within its storage.
/// Otherwise the reason, naming the opcode and its byte offset. Opcodes LibTorch's archives never hold
/// are refused too, since the walk could not follow them. A pickle the walk cannot finish for a reason
/// LibTorch reports itself (a truncated argument, an empty stack, an unknown memo entry) is left to it.
std::string pickle_fault(std::string_view pickle, const StorageRecordSize& storage_record_size);

}  // namespace torchsystem::checkpoint_detail
