// LibTorch's handles as entities: module holders, torch::nn::AnyModule and optimizers.
//
// With this header a LibTorch module is registered and created like any class, and the handle a
// LibTorch user expects comes back:
//
//   class MLPImpl : public torch::nn::Module {
//    public:
//     MLPImpl(int64_t input_size, int64_t hidden_size, int64_t output_size, double dropout,
//             torch::nn::AnyModule activation);
//     torch::Tensor forward(torch::Tensor input);
//   };
//   TORCH_MODULE(MLP);
//
//   register_class<MLP(int64_t, int64_t, int64_t, double, torch::nn::AnyModule)>(
//       "input_size", "hidden_size", "output_size", "dropout", "activation");
//   MLP model = create<MLP>(784, 256, 10, "dropout"_a = 0.5, "activation"_a = create<torch::nn::ReLU>());
//   getarguments(model);  // {"input_size": 784, ..., "activation": "ReLU"}
//
// A holder's class is named after the holder (`MLP`, not `MLPImpl`). Copies of a holder share one
// module, so they share one identity. A parameter typed torch::nn::AnyModule takes any registered module
// with a forward() and shows as `Module` in signatures; a parameter typed as a holder takes that module
// only and shows the holder's name. Creating a LibTorch built-in type registers the catalog first
// (torchsystem/torch/catalog.hpp), so create<torch::nn::ReLU>() works without any set-up.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>
#include <torch/optim/optimizer.h>

#include <any>
#include <concepts>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "torchsystem/entity.hpp"
#include "torchsystem/registration.hpp"

namespace torchsystem {

/// Registers LibTorch's built-in modules, losses and optimizers, once (see catalog.hpp).
void register_torch_catalog();

/// A LibTorch module holder: the type TORCH_MODULE(Name) declares around NameImpl.
template <class H>
concept module_holder = requires {
  typename H::ContainedType;
}
&&std::derived_from<H, torch::nn::ModuleHolder<typename H::ContainedType>>;

/// A LibTorch module with a single, non-template forward(): what torch::nn::AnyModule can hold.
template <class M>
concept any_module_compatible = std::derived_from<M, torch::nn::Module> && requires {
  &M::forward;
};

template <module_holder H>
struct handle_traits<H> {
  using element_type = typename H::ContainedType;
  using handle_type = H;
  static H wrap(std::shared_ptr<element_type> pointer) { return H(std::move(pointer)); }
  static std::string type_name() { return unqualified_type_name(typeid(H)); }
  static void prepare() { register_torch_catalog(); }
};

template <class O>
requires std::derived_from<O, torch::optim::Optimizer>
struct handle_traits<O> {
  using element_type = O;
  using handle_type = std::shared_ptr<O>;
  static handle_type wrap(std::shared_ptr<O> pointer) { return pointer; }
  static void prepare() { register_torch_catalog(); }
};

/// The module an entity refers to, whatever handle it came through; nullptr when it is not a module.
std::shared_ptr<torch::nn::Module> as_module(const Object& object);

template <module_holder H>
struct entity_traits<H> {
  static Object to_object(const H& holder) { return holder.is_empty() ? Object() : Object(holder.ptr()); }
  static H from_object(const Object& object) {
    return H(std::dynamic_pointer_cast<typename H::ContainedType>(as_module(object)));
  }
  static std::string type_name() { return unqualified_type_name(typeid(H)); }
};

template <>
struct entity_traits<torch::nn::AnyModule> {
  static Object to_object(const torch::nn::AnyModule& module) {
    return module.is_empty() ? Object() : Object(module.ptr());
  }
  /// Empty when the object is not a registered module with a forward() AnyModule can hold.
  static torch::nn::AnyModule from_object(const Object& object);
  static std::string type_name() { return "Module"; }
};

/// AnyModule needs the module's static type, which only its registration knows.
template <class M>
requires std::derived_from<M, torch::nn::Module>
struct extra_conversions<M> {
  static std::vector<Conversion> list() {
    if constexpr (any_module_compatible<M>) {
      return {{&typeid(torch::nn::AnyModule), [](const Object& object) -> std::any {
                 auto module = std::dynamic_pointer_cast<M>(as_module(object));
                 return module ? torch::nn::AnyModule(std::move(module)) : torch::nn::AnyModule();
               }}};
    } else {
      return {};
    }
  }
};

/// The number of elements in the module's parameters (what `sum(p.numel() for p in m.parameters())` gives).
std::int64_t parameter_count(const torch::nn::Module& module);

}  // namespace torchsystem
