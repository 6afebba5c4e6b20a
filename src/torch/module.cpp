#include "torchsystem/torch/module.hpp"

#include <mutex>

#include "catalog_support.hpp"

namespace torchsystem {

std::shared_ptr<torch::nn::Module> as_module(const Object& object) {
  return object.as<torch::nn::Module>();
}

torch::nn::AnyModule entity_traits<torch::nn::AnyModule>::from_object(const Object& object) {
  const EntityRecord* record = object.record();
  if (!record) return {};
  std::any converted = record->cls().convert(object, typeid(torch::nn::AnyModule));
  if (!converted.has_value()) return {};
  return std::any_cast<torch::nn::AnyModule>(std::move(converted));
}

std::int64_t parameter_count(const torch::nn::Module& module) {
  std::int64_t count = 0;
  for (const auto& parameter : module.parameters()) count += parameter.numel();
  return count;
}

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
