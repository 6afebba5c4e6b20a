// Tensors for whole data sets, backed by transparent huge pages. LibTorch 1.13's CPU allocator takes
// 4 KiB pages, and the first touch of each costs a page fault: 46,000 of them for Fashion-MNIST's
// 188 MB of features, about 0.45 s on the project's virtual machines (as long as reading the file).
// With 2 MiB pages, as NumPy asks for any array of 4 MiB or more, that is 90 faults. Internal.
#pragma once

#include <ATen/core/Tensor.h>

namespace torchsystem::training_detail {

/// An uninitialized contiguous tensor of `sizes` and `type`: at::empty's, or for 4 MiB and more, memory
/// aligned to 2 MiB and advised as huge pages (where the kernel allows them; it is only advice).
at::Tensor empty_huge(at::IntArrayRef sizes, at::ScalarType type);

}  // namespace torchsystem::training_detail
