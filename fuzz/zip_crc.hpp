// Recomputing the CRC-32s of a zip archive, so that the checkpoint fuzz target can get past the store's
// CRC check (which refuses almost every mutated archive) and reach LibTorch's reader behind it.
#pragma once

#include <string>
#include <string_view>

namespace torchsystem::fuzz {

/// `zip` with the CRC-32 of every stored (uncompressed) entry recomputed from its data and written to its
/// central directory record and to its data descriptor, or to its local header when it has none. Entries the
/// central directory cannot locate, compressed or ZIP64 entries, and anything that is not a zip, are left as
/// they are.
std::string with_recomputed_crcs(std::string_view zip);

}  // namespace torchsystem::fuzz
