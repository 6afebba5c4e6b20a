#include "torchsystem/torch/module.hpp"

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

}  // namespace torchsystem
