// Fuzz target: a checkpoint file of arbitrary bytes, as they are (see checkpoint_harness.hpp). Almost
// every mutation of a real archive stops at the store's CRC check; checkpoint_crc_fuzzer gets past it.
#include <cstddef>
#include <cstdint>

#include "checkpoint_harness.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torchsystem::fuzz::write_seeds_if_asked();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  torchsystem::fuzz::fuzz_checkpoint(data, size, false);
  return 0;
}
