// Registry<Base>: a named collection of registered classes that share a base (the reference's Registry[T]).
//
//   Registry<Module> models;
//   models.register_class<MLP(int, int, int, double, std::shared_ptr<Module>)>(
//       "input_size", "hidden_size", "output_size", "dropout", "activation");
//   models.keys();                        // ["MLP"]
//   models.signature("MLP");              // {"input_size": "int", ..., "activation": "Module"}
//   auto mlp = models.get("MLP")(784, 256, 10, "dropout"_a = 0.5, "activation"_a = relu);
//   auto same = models.create(getmetadata(mlp) /* or {"name": ..., "arguments": {...}} */);
//
// Building from configuration resolves nested entities by name in this registry, then in the registries
// it includes, so a configuration can say `"activation": "ReLU"` or
// `"activation": {"name": "GLU", "arguments": {...}}`. Errors name the full path of the fault.
// All member functions are safe to call from many threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "torchsystem/json.hpp"
#include "torchsystem/registration.hpp"

namespace torchsystem {

/// The part of a registry that does not depend on its base type.
class RegistryBase : public detail::Resolver {
 public:
  explicit RegistryBase(std::string description);
  ~RegistryBase() override;
  RegistryBase(const RegistryBase&) = delete;
  RegistryBase& operator=(const RegistryBase&) = delete;

  /// What the registry is, for messages (such as `registry Module`).
  const std::string& description() const noexcept { return description_; }
  /// The registered names, in registration order.
  std::vector<std::string> keys() const;
  bool contains(std::string_view name) const;
  std::size_t size() const;
  /// {parameter: type name} in order, without excluded parameters. Throws UnknownNameError.
  Json signature(std::string_view name) const;
  /// The registered class under `name`. Throws UnknownNameError listing close names.
  const ClassInfo& info(std::string_view name) const;

  /// Consults `other` for nested entity names this registry does not have. `other` must outlive this.
  void include(const RegistryBase& other);

  const ClassInfo* find(std::string_view name) const override;
  /// Registered names close to `name`, here and in the registries included, for "did you mean".
  std::vector<std::string> suggest(std::string_view name) const;
  [[noreturn]] void unknown_name(std::string_view name) const override;

 protected:
  using Upcast = std::shared_ptr<void> (*)(const Object&);
  struct Entry {
    const ClassInfo* cls = nullptr;
    Upcast upcast = nullptr;  // the object as a pointer to the registry's base, erased to void
  };
  /// A built object, and how to hand it out as the registry's base.
  struct Built {
    Object object;
    Upcast upcast = nullptr;
  };
  [[noreturn]] void handle_type_error(const Object& object, std::string_view handle) const;

  void insert(std::string key, const ClassInfo& cls, Upcast upcast);
  Entry entry(std::string_view name) const;
  /// Builds `name` from keyword arguments in JSON (and `code` arguments beside them).
  Built build(std::string_view name, const Json& arguments, detail::CallArguments code) const;
  /// Builds from {"name": ..., "arguments": {...}, "hash": ...} (the form getmetadata gives).
  Built build(const Json& config, detail::CallArguments code) const;
  Built build(const Entry& entry, detail::CallArguments& arguments) const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };
  const ClassInfo* find_here(std::string_view name) const;
  /// This registry, then the registries it includes (depth first, in order, each once).
  std::vector<const RegistryBase*> lookup_order() const;

  std::string description_;
  mutable std::shared_mutex mutex_;
  std::vector<std::string> order_;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
  std::vector<const RegistryBase*> included_;
};

template <class Base>
class Registry;

/// A callable that builds one registered class with positional and `"name"_a = value` arguments.
template <class Base>
class Builder {
 public:
  template <class... A>
  std::shared_ptr<Base> operator()(A&&... arguments) const {
    detail::CallArguments call = detail::pack_arguments(std::forward<A>(arguments)...);
    return registry_->build_entry(entry_, call);
  }
  const ClassInfo& info() const noexcept { return *entry_.cls; }

 private:
  friend class Registry<Base>;
  Builder(const Registry<Base>& registry, typename Registry<Base>::Entry entry)
      : registry_(&registry), entry_(entry) {}
  const Registry<Base>* registry_;
  typename Registry<Base>::Entry entry_;
};

template <class Base>
class Registry : public RegistryBase {
 public:
  explicit Registry(std::string description = "registry " + unqualified_type_name(typeid(Base)))
      : RegistryBase(std::move(description)) {}

  /// Registers a class (as torchsystem::register_class does) and adds it under its name.
  template <class Signature, class... S>
  const ClassInfo& register_class(S&&... specs) {
    return add_registered<typename detail::signature_result<Signature>::type>(
        torchsystem::register_class<Signature>(std::forward<S>(specs)...));
  }

  /// Adds a class registered elsewhere, under its name or under `key`.
  template <class T>
  const ClassInfo& add(std::string key = {}) {
    detail::prepare_class<T>();
    const ClassInfo& cls =
        detail::require_class(detail::registered_class<T>.load(std::memory_order_acquire), typeid(T));
    return add_registered<T>(cls, std::move(key));
  }

  /// A callable building `name` with the same positional and keyword arguments as its signature.
  Builder<Base> get(std::string_view name) const { return Builder<Base>(*this, entry(name)); }

  /// Builds from a configuration {"name": ..., "arguments": {...}} (getmetadata's form); `code` holds
  /// arguments that cannot come from JSON, positional or `"name"_a = value`.
  template <std::same_as<Json> J, class... A>
  std::shared_ptr<Base> create(const J& config, A&&... code) const {
    return upcast(build(config, detail::pack_arguments(std::forward<A>(code)...)));
  }

  /// Builds `name` from a JSON object of keyword arguments, with `code` arguments beside them.
  template <class... A>
  std::shared_ptr<Base> create(std::string_view name, const Json& arguments, A&&... code) const {
    return upcast(build(name, arguments, detail::pack_arguments(std::forward<A>(code)...)));
  }

  /// As create(config, code...), handing the object out as the entity handle H (a LibTorch module
  /// holder, torch::nn::AnyModule, std::shared_ptr<Derived>). Throws ArgumentError when it is not an H.
  template <entity_handle H, std::same_as<Json> J, class... A>
  H create_as(const J& config, A&&... code) const {
    const Object object = build(config, detail::pack_arguments(std::forward<A>(code)...)).object;
    H handle = entity_traits<H>::from_object(object);
    if (!entity_traits<H>::to_object(handle)) handle_type_error(object, entity_traits<H>::type_name());
    return handle;
  }

 private:
  friend class Builder<Base>;

  template <class T>
  const ClassInfo& add_registered(const ClassInfo& cls, std::string key = {}) {
    using element_type = typename handle_traits<T>::element_type;
    static_assert(std::is_base_of_v<Base, element_type>, "a Registry<Base> holds classes derived from Base");
    Upcast upcast = [](const Object& object) -> std::shared_ptr<void> {
      return std::static_pointer_cast<Base>(object.as<element_type>());
    };
    insert(key.empty() ? std::string(cls.name()) : std::move(key), cls, upcast);
    return cls;
  }

  std::shared_ptr<Base> build_entry(const Entry& entry, detail::CallArguments& call) const {
    return upcast(build(entry, call));
  }
  static std::shared_ptr<Base> upcast(const Built& built) {
    return std::static_pointer_cast<Base>(built.upcast(built.object));
  }
};

}  // namespace torchsystem
