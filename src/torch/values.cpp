#include "torchsystem/torch/values.hpp"

#include <ATen/Functions.h>

#include <cstdint>
#include <vector>

namespace torchsystem {

namespace {

Json tensor_values(const at::Tensor& tensor) {
  if (tensor.dim() == 0) {
    if (tensor.is_floating_point()) {
      return tensor.scalar_type() == at::kFloat ? Json(float_identity(tensor.item<float>()))
                                                : Json(tensor.item<double>());
    }
    if (tensor.scalar_type() == at::kBool) return tensor.item<bool>();
    return tensor.item<std::int64_t>();
  }
  Json list = Json::array();
  for (std::int64_t i = 0; i < tensor.size(0); ++i) list.push_back(tensor_values(tensor[i]));
  return list;
}

/// The shape of a rectangular nested list of numbers; conversion_error otherwise.
void read_shape(const Json& json, std::size_t depth, std::vector<std::int64_t>& shape,
                std::vector<float>& values) {
  if (json.is_number()) {
    if (depth != shape.size()) conversion_error("a number or a rectangular nested list of numbers", json);
    values.push_back(json.get<float>());
    return;
  }
  if (!json.is_array()) conversion_error("a number or a rectangular nested list of numbers", json);
  const auto size = static_cast<std::int64_t>(json.size());
  if (depth == shape.size() && values.empty()) {
    shape.push_back(size);
  } else if (depth >= shape.size() || shape[depth] != size) {
    conversion_error("a rectangular nested list of numbers", json);
  }
  for (const Json& element : json) read_shape(element, depth + 1, shape, values);
}

}  // namespace

Json value_traits<at::Tensor>::to_json(const at::Tensor& tensor) {
  if (!tensor.defined()) return nullptr;
  return tensor_values(tensor.detach().to(at::kCPU));
}

at::Tensor value_traits<at::Tensor>::from_json(const Json& json) {
  if (json.is_null()) return {};
  std::vector<std::int64_t> shape;
  std::vector<float> values;
  read_shape(json, 0, shape, values);
  return at::tensor(values).reshape(shape);
}

}  // namespace torchsystem
