// Reading the values of a state dict (see state_values.hpp).
#include "state_values.hpp"

#include <sstream>

namespace torchsystem::checkpoint_detail {

using Kind = PyNode::Kind;

const std::array<std::pair<const char*, c10::ScalarType>, 13>& storage_types() {
  static const std::array<std::pair<const char*, c10::ScalarType>, 13> types = {{
      {"FloatStorage", c10::kFloat},
      {"DoubleStorage", c10::kDouble},
      {"HalfStorage", c10::kHalf},
      {"BFloat16Storage", c10::kBFloat16},
      {"LongStorage", c10::kLong},
      {"IntStorage", c10::kInt},
      {"ShortStorage", c10::kShort},
      {"CharStorage", c10::kChar},
      {"ByteStorage", c10::kByte},
      {"BoolStorage", c10::kBool},
      {"ComplexFloatStorage", c10::kComplexFloat},
      {"ComplexDoubleStorage", c10::kComplexDouble},
      {"ComplexHalfStorage", c10::kComplexHalf},
  }};
  return types;
}

std::string storage_type_of(c10::ScalarType type) {
  for (const auto& [name, scalar] : storage_types()) {
    if (scalar == type) return name;
  }
  throw StateError(std::string("a tensor of type ") + c10::toString(type) + " cannot be saved");
}

std::string shape_text(c10::ScalarType type, c10::IntArrayRef sizes) {
  std::ostringstream text;
  text << c10::toString(type) << sizes;
  return text.str();
}

std::string state_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

// ---------------------------------------------------------------------------------------------------------
// Reading values, each naming its path in a fault.

[[noreturn]] void wrong(const std::string& path, const std::string& expected, const PyNode* got) {
  throw StateError(path + ": expected " + expected + ", got " + describe(got));
}

const PyNode* require_kind(const PyNode* node, PyNode::Kind kind, const std::string& path,
                           const char* expected) {
  if (node->kind != kind) wrong(path, expected, node);
  return node;
}

double number(const PyNode* node, const std::string& path) {
  if (node->kind == Kind::integer) return static_cast<double>(node->integer);
  if (node->kind == Kind::floating) return node->floating;
  wrong(path, "a number", node);
}

std::int64_t integer(const PyNode* node, const std::string& path) {
  if (node->kind != Kind::integer) wrong(path, "an int", node);
  return node->integer;
}

bool boolean(const PyNode* node, const std::string& path) {
  if (node->kind != Kind::boolean) wrong(path, "a bool", node);
  return node->boolean;
}

/// A scalar that PyTorch keeps as a number or as a one-element tensor (Adam's `step`, LBFGS's `t`).
double scalar(const PyNode* node, const StorageTable& storages, const std::string& path) {
  if (node->kind != Kind::tensor) return number(node, path);
  const torch::Tensor value = storages.tensor(node->tensor);
  if (value.numel() != 1) throw StateError(path + ": expected a number or a one-element tensor");
  return value.to(c10::kDouble).item<double>();
}

/// A state tensor for `parameter`: its shape, cast to its type when floating, as PyTorch's
/// Optimizer.load_state_dict casts. `shape_of_parameter` false for LBFGS's flat vectors and scalars.
torch::Tensor state_tensor(const PyNode* node, const StorageTable& storages, const std::string& path,
                           const torch::Tensor& parameter, bool shape_of_parameter) {
  if (node->kind != Kind::tensor) wrong(path, "a tensor", node);
  torch::Tensor value = storages.tensor(node->tensor);
  if (shape_of_parameter && value.sizes() != parameter.sizes()) {
    throw StateError(path + " is " + shape_text(value.scalar_type(), value.sizes()) + " in the file, " +
                     shape_text(parameter.scalar_type(), parameter.sizes()) + " for its parameter");
  }
  if (value.is_floating_point() && parameter.is_floating_point()) value = value.to(parameter.scalar_type());
  return value.clone(at::MemoryFormat::Contiguous);
}

std::deque<torch::Tensor> tensor_list(const PyNode* node, const StorageTable& storages,
                                      const std::string& path, const torch::Tensor& parameter) {
  require_kind(node, Kind::list, path, "a list of tensors");
  std::deque<torch::Tensor> values;
  for (std::size_t index = 0; index < node->items.size(); ++index)
    values.push_back(state_tensor(node->items[index], storages, path + "[" + std::to_string(index) + "]",
                                  parameter, false));
  return values;
}

/// The entries of a dict with str keys.
std::vector<std::pair<std::string, const PyNode*>> str_entries(const PyNode* dict, const std::string& path) {
  require_kind(dict, Kind::dict, path, "a dict");
  std::vector<std::pair<std::string, const PyNode*>> entries;
  for (const auto& [key, value] : dict->entries) {
    if (key->kind != Kind::string) wrong(path + " key", "a str", key);
    entries.emplace_back(key->string, value);
  }
  return entries;
}

}  // namespace torchsystem::checkpoint_detail
