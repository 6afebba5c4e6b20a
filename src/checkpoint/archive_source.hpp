// The TorchScript source inside a checkpoint, checked before LibTorch compiles it.
//
// A LibTorch archive carries, beside its tensors, Python-like source for the classes of the objects it
// holds (`<dir>/code/**/*.py`), and LibTorch 1.13 compiles that source while it reads the archive. Its
// compiler crashes on some inputs (a class-body assignment it does not expect is dereferenced without a
// check: docs/reliability.md), so a file whose CRCs match but whose source was changed could take the
// process down. The store writes only modules of attributes, whose source is a small, fixed subset of
// TorchScript; anything outside that subset is refused here, before LibTorch sees it.
//
// This file is plain C++, so the check is tested without LibTorch.
#pragma once

#include <string>
#include <string_view>

namespace torchsystem::checkpoint_detail {

/// Deepest nesting of a type such as `List[Tuple[int, float]]`. The store's own archives nest at
/// most three deep; LibTorch's type parser recurses once per level.
inline constexpr int max_type_depth = 16;

/// Empty when `source` is made only of what LibTorch writes for a module of attributes:
///
///     class Module(Module):
///       __parameters__ = ["weight", "bias", ]
///       __buffers__ = []
///       __annotations__ = []
///       __annotations__["params/0"] = Tensor
///       lr : float
///       state : __torch__.___torch_mangle_7.Module
///       betas : Tuple[float, float]
///
/// Otherwise the reason, naming the line (1-based) and what was expected there.
std::string attribute_source_fault(std::string_view source);

}  // namespace torchsystem::checkpoint_detail
