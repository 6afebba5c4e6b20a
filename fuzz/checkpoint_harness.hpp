// The checkpoint fuzz targets' shared logic, behind a header free of LibTorch so that their entry points
// stay cheap to compile (see checkpoint_harness.cpp for what is checked).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace torchsystem::fuzz {

/// Writes `data` as the checkpoint of a small model's identity in a temporary store, then inspects,
/// lists and loads it; aborts when an outcome is neither success nor a CheckpointError naming the file,
/// or when the file changed. With `recompute_crcs`, the zip entries' CRC-32s are made to match the data
/// first, so that LibTorch's reader behind the store's CRC check is reached.
void fuzz_checkpoint(const std::uint8_t* data, std::size_t size, bool recompute_crcs);

/// Writes the seed checkpoints of fuzz/corpus/checkpoint into `directory` (created if missing): real
/// archives saved by the store for the aggregate fuzz_checkpoint loads.
void write_checkpoint_seeds(const std::filesystem::path& directory);

/// Runs write_checkpoint_seeds and exits when TORCHSYSTEM_FUZZ_WRITE_SEEDS names a directory.
void write_seeds_if_asked();

}  // namespace torchsystem::fuzz
