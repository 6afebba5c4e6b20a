// NumPy's array files read into tensors: `.npy` (format versions 1.0, 2.0 and 3.0, as numpy.save and
// numpy.lib.format.write_array write them) and `.npz` archives of them, stored (numpy.savez) or deflated
// (numpy.savez_compressed).
//
//   const at::Tensor x = read_npy("x_train.npy");                         // its dtype and its shape
//   const auto arrays = read_npz("data.npz", {"x_train", "y_train"});      // these members only
//
// Numeric dtypes only: bool, int8 to int64, uint8 (as LibTorch's uint8), uint16 and uint32 (widened to
// int32 and int64, which hold every value), uint64 (as int64, refused when a value is beyond it), float16,
// float32 and float64; little- or big-endian (the latter swapped as it is read). C order is kept; Fortran
// order is converted to C order. Object, string, datetime, complex and structured dtypes are refused,
// naming the array and its dtype, as is a header that is not what the format says.
//
// The data are read straight into the tensor from the file or the archive member (no second copy of the
// array is held, but for Fortran order and the widened unsigned types). Sizes are checked before anything
// is allocated: an `.npy` file must hold exactly what its header announces, and a deflated member cannot
// announce more than deflate can expand its compressed bytes to (1032 times), so a small archive cannot
// make the reader allocate gigabytes. Every fault is a DataError naming the file (and the member).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace torchsystem {

/// The array of an `.npy` file.
at::Tensor read_npy(const std::filesystem::path& path);

/// The arrays `names` of an `.npz` archive (its members `<name>.npy`), by name. A member missing is a
/// DataError naming it and the members the archive has.
std::map<std::string, at::Tensor> read_npz(const std::filesystem::path& path,
                                           const std::vector<std::string>& names);

}  // namespace torchsystem
