// The catalog's one instance, registered once on first use (see catalog.hpp).
#include "torchsystem/torch/catalog.hpp"

#include <mutex>

#include "catalog_support.hpp"

namespace torchsystem {

namespace {
TorchCatalog& catalog_storage() {
  static TorchCatalog catalog;
  return catalog;
}
}  // namespace

void register_torch_catalog() {
  // Registration must not create catalog types through create<T> or Registry::add<T>: they call
  // this function, and call_once would wait on itself.
  static std::once_flag once;
  std::call_once(once, [] {
    TorchCatalog& catalog = catalog_storage();
    catalog::register_layers(catalog);
    catalog::register_sequence_layers(catalog);
    catalog::register_activations(catalog);
    catalog::register_losses(catalog);
    catalog::register_optimizers(catalog);
  });
}

const TorchCatalog& torch_catalog() {
  register_torch_catalog();
  return catalog_storage();
}

}  // namespace torchsystem
