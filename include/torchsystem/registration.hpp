// Registration: declaring a class's signature, and creating objects that remember how they were built.
//
// C++ cannot read a constructor's parameter names, so a registration states what Python reads from
// `__init__`: the signature as a function type, the parameter names in order, and their defaults:
//
//   register_class<Model(int, double, std::string, std::string)>("x", "y", "z", "t"_a = "4");
//   auto model = create<Model>(1, 2.0, "3", "t"_a = "5");   // std::shared_ptr<Model>
//   getarguments(model);                                      // {"x": 1, "y": 2.0, "z": "3", "t": "5"}
//
// Options may follow the parameters in any order: named("Criterion") (the reference's
// `register('Criterion')`), excluded_args{0} and excluded_kwargs{"params"}. When the constructor does not
// take exactly the parameters, factory(f) comes first and maps them onto what it takes; the signature
// may then name the class alone, the parameter types being read from f:
//
//   register_class<Linear>(factory([](std::int64_t in_features, std::int64_t out_features, bool bias) {
//                            return LinearOptions(in_features, out_features).bias(bias);
//                          }),
//                          "in_features", "out_features", "bias"_a = true);
//
// Registering the same definition again is harmless; a different definition for the same type is an error.
#pragma once

#include <any>
#include <array>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "torchsystem/detail/call_arguments.hpp"  // IWYU pragma: export
#include "torchsystem/entity.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/extension.hpp"
#include "torchsystem/json.hpp"
#include "torchsystem/keywords.hpp"
#include "torchsystem/value_traits.hpp"

namespace torchsystem {

class ClassInfo;

// ---------------------------------------------------------------------------------------------------
// Registration options.

struct Parameter {
  std::string name;
  std::string type;  ///< Python-style type name: int, float, str, bool, list, dict, Any, Module...
  bool has_default = false;
  std::optional<Json> default_json;  ///< identity form of the default, when it has a fixed one
  bool is_entity = false;            ///< takes a registered object
  bool has_json_form = false;        ///< can be recorded and read from a configuration
  friend bool operator==(const Parameter&, const Parameter&) = default;
};

/// The registered name (the reference's `register('Criterion')`): recorded as the entity's name.
struct RegisteredName {
  std::string value;
};
inline RegisteredName named(std::string name) {
  return {std::move(name)};
}

/// Positions left out of the identity when passed positionally (the reference's `excluded_args`).
struct excluded_args {
  std::vector<std::size_t> positions;
  excluded_args(std::initializer_list<std::size_t> list) : positions(list) {}
};

/// Names left out of the identity when passed by keyword (the reference's `excluded_kwargs`).
struct excluded_kwargs {
  std::vector<std::string> names;
  excluded_kwargs(std::initializer_list<std::string> list) : names(list) {}
};

/// Builds the object from the parameters when the constructor does not take them as they are: `f`
/// returns the object itself, a value the object is constructed from, a std::tuple of such values, or a
/// std::unique_ptr to the object (which may be of a class derived from the registered one).
template <class F>
struct Factory {
  F function;
};
template <class F>
Factory<std::decay_t<F>> factory(F&& function) {
  return {std::forward<F>(function)};
}

namespace detail {
struct DefaultFactory {};  // the object is constructed from the parameters as they are
}  // namespace detail

// ---------------------------------------------------------------------------------------------------
// A registered class.

/// What a registration states about a class, and the means to build it from erased arguments.
class ClassInfo {
 public:
  /// What a registration states. Two registrations of one C++ type must state the same (operator==);
  /// a new registration option is a member here and a case in detail::make_class.
  struct Definition {
    std::string name;                          ///< the registered name, or the C++ type's unqualified name
    bool registered_name = false;              ///< given with named(...)
    std::type_index type = typeid(void);       ///< T of register_class<T(...)>
    std::type_index element = typeid(void);    ///< the type of the objects constructed
    std::type_index signature = typeid(void);  ///< T(P...)
    std::type_index factory = typeid(void);    ///< the factory's type, or detail::DefaultFactory
    std::vector<Parameter> parameters;
    std::vector<std::size_t> excluded_positions;
    std::vector<std::string> excluded_names;
    /// Per parameter: the type of the callable that computes its default, if any.
    std::vector<std::optional<std::type_index>> default_factories;
    friend bool operator==(const Definition&, const Definition&) = default;
  };

  virtual ~ClassInfo();
  ClassInfo(const ClassInfo&) = delete;
  ClassInfo& operator=(const ClassInfo&) = delete;

  const Definition& definition() const noexcept { return definition_; }
  /// The registered name, or the C++ type's unqualified name.
  const std::string& name() const noexcept { return definition_.name; }
  /// True when registered with named(...): the name is then part of each object's metadata.
  bool has_registered_name() const noexcept { return definition_.registered_name; }
  std::type_index type() const noexcept { return definition_.type; }
  /// The type of the objects constructed (T itself, or the object a handle type T holds).
  std::type_index element_type() const noexcept { return definition_.element; }
  const std::vector<Parameter>& parameters() const noexcept { return definition_.parameters; }
  /// True when parameter `index` is excluded by position or by name (as signature and canonical do).
  bool is_excluded(std::size_t index) const;
  /// {parameter: type name} in order, excluded parameters left out (the reference's `signature`).
  Json signature() const;
  /// A readable one-line definition, such as `Model(x: int, y: float, z: str, t: str = "4")`.
  std::string describe() const;
  bool same_definition(const ClassInfo& other) const { return definition_ == other.definition_; }

  /// Builds an object from a call's erased arguments (the library's entry point: Registry, create).
  /// Errors are ArgumentError with the path from this class (`Model.y`).
  Object build(detail::CallArguments& arguments, const detail::Resolver* resolver = nullptr) const;
  /// Builds from a JSON object of keyword arguments; `code` holds arguments passed in code beside it.
  Object build_from_json(const Json& arguments, const detail::Resolver* resolver,
                         detail::CallArguments code = {}) const;
  /// The object as another handle type declared by extra_conversions (in a std::any), or an empty any.
  std::any convert(const Object& object, const std::type_info& target) const;

 protected:
  ClassInfo(Definition definition, std::vector<Conversion> conversions);

  /// Converts the bound arguments to the parameter types, fills `canonical`, records the entity and
  /// constructs it. `slots[i]` is the argument bound to parameter i, or nullptr for its default.
  virtual Object make(detail::CallArguments& arguments, std::vector<detail::CallArgument*>& slots,
                      const detail::Resolver* resolver) const = 0;

  /// The python-style arguments of a call, recorded as the reference does.
  Json record(const detail::CallArguments& arguments) const;
  /// Rethrows the error in flight (from converting parameter `index`) with this class's path in front.
  [[noreturn]] void rethrow_for_parameter(std::size_t index) const;
  /// Rethrows the error in flight from the factory or constructor: an ArgumentError gets this class's
  /// path in front; another exception becomes an ArgumentError naming this class, with the original
  /// nested in it (std::rethrow_if_nested reaches it).
  [[noreturn]] void rethrow_from_constructor() const;
  [[noreturn]] void argument_type_error(std::size_t index, const detail::CallArgument& argument) const;
  [[noreturn]] void code_only_error(std::size_t index, const detail::CallArgument& argument,
                                    const std::type_info& type) const;
  Object resolve_entity(detail::CallArgument& argument, const detail::Resolver* resolver,
                        std::string_view expected) const;
  std::unique_ptr<EntityRecord> make_record(Json arguments, Json canonical) const;

 private:
  std::vector<detail::CallArgument*> bind(detail::CallArguments& arguments) const;
  void validate() const;

  Definition definition_;
  std::vector<Conversion> conversions_;  // from extra_conversions: follows from the element type
};

}  // namespace torchsystem

// The machinery behind register_class and create: it needs ClassInfo complete.
#include "torchsystem/detail/make_class.hpp"  // IWYU pragma: export

namespace torchsystem {

/// Registers class T with signature `Signature` (a function type `T(P...)`): optionally factory(...) first,
/// then one parameter name per P, in order, `"name"_a = value` for a parameter with a default (a callable
/// default is called for each object), and options: named(...), excluded_args{...}, excluded_kwargs{...}.
/// With a factory, `Signature` may be T alone: the parameter types are then the factory's.
template <class Signature, class F, class... S>
const ClassInfo& register_class(Factory<F> function, S&&... specs) {
  using Deduced = typename detail::factory_signature<Signature, F>::type;
  return detail::register_with<Deduced>(std::move(function.function), std::forward<S>(specs)...);
}

template <class Signature, class... S>
const ClassInfo& register_class(S&&... specs) {
  static_assert(std::is_function_v<Signature>,
                "register_class needs the signature as a function type T(P...), or a factory(...) first");
  return detail::register_with<Signature>(detail::DefaultFactory{}, std::forward<S>(specs)...);
}

/// Creates a T through its registration, recording its arguments. Returns a std::shared_ptr<T> (or the
/// handle type a layer declares for T, such as a LibTorch module holder).
template <class T, class... A>
typename handle_traits<T>::handle_type create(A&&... arguments) {
  using element_type = typename handle_traits<T>::element_type;
  detail::prepare_class<T>();
  const ClassInfo& cls =
      detail::require_class(detail::registered_class<T>.load(std::memory_order_acquire), typeid(T));
  detail::CallArguments call = detail::pack_arguments(std::forward<A>(arguments)...);
  return handle_traits<T>::wrap(cls.build(call).template as<element_type>());
}

}  // namespace torchsystem
