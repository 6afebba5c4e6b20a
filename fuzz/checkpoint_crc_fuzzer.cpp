// Fuzz target: a checkpoint file of arbitrary bytes whose zip CRC-32s are recomputed before it is
// written, so that the mutations reach LibTorch's archive reader behind the store's CRC check.
#include <cstddef>
#include <cstdint>

#include "checkpoint_harness.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torchsystem::fuzz::write_seeds_if_asked();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  torchsystem::fuzz::fuzz_checkpoint(data, size, true);
  return 0;
}
