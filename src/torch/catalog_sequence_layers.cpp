// The catalog's recurrent, attention, transformer, shape and resampling modules.
#include "catalog_support.hpp"

namespace torchsystem::catalog {

void register_sequence_layers(TorchCatalog&) {}

}  // namespace torchsystem::catalog
