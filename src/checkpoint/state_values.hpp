// Reading the values of a state dict, each fault a StateError naming the value's path
// (`optimizer.state[0].exp_avg`), and the names of tensor types as pickles spell them. Shared by the
// state dicts of modules and optimizers (state_dict.cpp). Internal to the checkpoint library.
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "pickle.hpp"
#include "state_dict.hpp"

namespace torchsystem::checkpoint_detail {

/// The storage type names of pickles and the element types they hold.
const std::array<std::pair<const char*, c10::ScalarType>, 13>& storage_types();
/// The storage type name of an element type; StateError for a type a pickle cannot hold.
std::string storage_type_of(c10::ScalarType type);
/// `float[3, 4]`: a tensor's type and shape in messages.
std::string shape_text(c10::ScalarType type, c10::IntArrayRef sizes);
/// The key LibTorch's optimizers keep a parameter's state under.
std::string state_key(const torch::Tensor& parameter);

[[noreturn]] void wrong(const std::string& path, const std::string& expected, const PyNode* got);
const PyNode* require_kind(const PyNode* node, PyNode::Kind kind, const std::string& path,
                           const char* expected);
double number(const PyNode* node, const std::string& path);
std::int64_t integer(const PyNode* node, const std::string& path);
bool boolean(const PyNode* node, const std::string& path);
/// A scalar that PyTorch keeps as a number or as a one-element tensor (Adam's `step`, LBFGS's `t`).
double scalar(const PyNode* node, const StorageTable& storages, const std::string& path);
/// A state tensor for `parameter`: its shape, cast to its type when floating, as PyTorch's
/// Optimizer.load_state_dict casts. `shape_of_parameter` false for LBFGS's flat vectors and scalars.
torch::Tensor state_tensor(const PyNode* node, const StorageTable& storages, const std::string& path,
                           const torch::Tensor& parameter, bool shape_of_parameter = true);
std::deque<torch::Tensor> tensor_list(const PyNode* node, const StorageTable& storages,
                                      const std::string& path, const torch::Tensor& parameter);
/// The entries of a dict with str keys.
std::vector<std::pair<std::string, const PyNode*>> str_entries(const PyNode* dict, const std::string& path);

}  // namespace torchsystem::checkpoint_detail
