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

#include "torchsystem/entity.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/extension.hpp"
#include "torchsystem/json.hpp"
#include "torchsystem/keywords.hpp"
#include "torchsystem/value_traits.hpp"

namespace torchsystem {

class ClassInfo;

namespace detail {

// ---------------------------------------------------------------------------------------------------
// Arguments of one call, with their static types erased.

/// One argument of a call: its identity form when it has one, the entity it refers to, or the value
/// itself when it travels in code only (a tensor, an optimizer's parameters).
class CallArgument {
 public:
  std::string_view keyword;          ///< empty for a positional argument
  Object entity;                     ///< the object, when the argument is an entity handle
  std::any value;                    ///< the value, when it has no JSON form
  const std::type_info* cpp_type{};  ///< the C++ type of `value`, for messages

  /// The identity form (and configuration form) of the value, or nullptr when it has none.
  const Json* json() const noexcept { return borrowed_ ? borrowed_ : (owns_json_ ? &owned_ : nullptr); }
  void set_json(Json json) {
    owned_ = std::move(json);
    owns_json_ = true;
    borrowed_ = nullptr;
  }
  /// Refers to a value in a configuration that outlives the call, without copying it.
  void refer_to_json(const Json& json) noexcept { borrowed_ = &json; }

 private:
  Json owned_;
  bool owns_json_ = false;
  const Json* borrowed_ = nullptr;
};
using CallArguments = std::vector<CallArgument>;

template <class A>
CallArgument make_argument(std::string_view keyword, A&& value) {
  using V = std::decay_t<A>;
  CallArgument argument;
  argument.keyword = keyword;
  if constexpr (entity_handle<V>) {
    argument.entity = entity_traits<V>::to_object(value);
    // An empty handle is Python's None: recorded as null, and a parameter takes it as an empty handle.
    if (!argument.entity) argument.set_json(nullptr);
  } else if constexpr (has_json_form<V>) {
    argument.set_json(value_traits<V>::to_json(value));
  } else {
    static_assert(std::is_copy_constructible_v<V>,
                  "an argument without a JSON form is carried in a std::any, which needs a copyable type");
    argument.value = std::forward<A>(value);
    argument.cpp_type = &typeid(V);
  }
  return argument;
}

template <class A>
CallArgument make_argument(A&& argument) {
  if constexpr (is_keyword_value_v<A>) {
    return make_argument(argument.name, std::forward<A>(argument).value);
  } else {
    return make_argument(std::string_view{}, std::forward<A>(argument));
  }
}

/// Packs a call's arguments, positional ones and `"name"_a = value` ones, in call order.
template <class... A>
CallArguments pack_arguments(A&&... arguments) {
  CallArguments packed;
  packed.reserve(sizeof...(A));
  (packed.push_back(make_argument(std::forward<A>(arguments))), ...);
  return packed;
}

/// The registered names closest to `name` (edit distance, case-insensitive), best first, at most `limit`.
std::vector<std::string> close_names(std::string_view name, const std::vector<std::string>& candidates,
                                     std::size_t limit = 3);

/// Finds classes by name, for entities named in a configuration (a Registry is one).
class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual const ClassInfo* find(std::string_view name) const = 0;
  /// Throws the UnknownNameError for `name` (with the names close to it), with an empty path.
  [[noreturn]] virtual void unknown_name(std::string_view name) const = 0;
};

}  // namespace detail

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

namespace detail {

/// Adds a definition to the process-wide table of classes, keyed by C++ type. Returns the definition
/// in force: the earlier one when `definition` is the same, else throws RegistrationError.
const ClassInfo& add_class(std::unique_ptr<ClassInfo> definition);

/// The class registered for C++ type T, or nullptr. Set once by register_class, read without a lock.
template <class T>
inline std::atomic<const ClassInfo*> registered_class{nullptr};

/// The class registered for T; throws RegistrationError when T was never registered.
const ClassInfo& require_class(const ClassInfo* cls, const std::type_info& type);

template <class P>
std::string parameter_type_name() {
  if constexpr (entity_handle<P>)
    return entity_traits<P>::type_name();
  else if constexpr (has_type_name<P>)
    return std::string(value_traits<P>::name);
  else
    return "Any";  // the reference's name for a parameter it cannot describe
}

template <class P>
Json identity_form(const P& value, IdentityStyle style) {
  if constexpr (entity_handle<P>) {
    const Object object = entity_traits<P>::to_object(value);
    if (!object) return nullptr;  // an empty handle is Python's None
    return require_record(object).argument_form(style);
  } else {
    return value_traits<P>::to_json(value);
  }
}

template <class S>
concept parameter_name = std::convertible_to<S, std::string_view> || std::same_as<std::decay_t<S>, Arg>;

template <class S>
inline constexpr bool is_parameter_spec = parameter_name<S> || is_keyword_value_v<S>;

template <class Signature>
struct signature_traits;

template <class T, class... P>
struct signature_traits<T(P...)> {
  using result = T;
  using parameters = std::tuple<std::decay_t<P>...>;
  static constexpr std::size_t arity = sizeof...(P);
};

template <class E, class R>
E* construct_from(R&& made) {
  using Made = std::decay_t<R>;
  if constexpr (std::is_same_v<Made, E>) {
    return new E(std::forward<R>(made));
  } else if constexpr (std::is_convertible_v<Made, std::unique_ptr<E>> && !std::is_null_pointer_v<Made>) {
    return std::unique_ptr<E>(std::forward<R>(made)).release();
  } else if constexpr (requires { std::tuple_size<Made>::value; }) {
    return std::apply([](auto&&... parts) { return new E(std::forward<decltype(parts)>(parts)...); },
                      std::forward<R>(made));
  } else {
    return new E(std::forward<R>(made));
  }
}

/// The typed half of a registered class: conversions to the parameter types and construction.
template <class Signature, class F>
class ClassImpl;

template <class T, class... P, class F>
class ClassImpl<T(P...), F> final : public ClassInfo {
  using element_type = typename handle_traits<T>::element_type;
  using Values = std::tuple<std::decay_t<P>...>;
  template <std::size_t I>
  using Param = std::tuple_element_t<I, Values>;

 public:
  using Defaults = std::tuple<std::function<std::decay_t<P>()>...>;

  ClassImpl(Definition definition, Defaults defaults, F function)
      : ClassInfo(std::move(definition), extra_conversions<element_type>::list()),
        defaults_(std::move(defaults)),
        function_(std::move(function)) {}

 protected:
  Object make(CallArguments& arguments, std::vector<CallArgument*>& slots,
              const Resolver* resolver) const override {
    Json canonical = Json::object();
    auto values = convert(slots, resolver, canonical, std::index_sequence_for<P...>{});
    auto entity = make_record(record(arguments), std::move(canonical));
    element_type* raw = nullptr;
    try {
      raw = std::apply(
          // [&]: `this` is used only with a factory, and clang warns of an explicit capture left unused.
          [&](auto&... value) -> element_type* {
            if constexpr (std::is_same_v<F, DefaultFactory>) {
              return new element_type(std::move(value)...);
            } else {
              return construct_from<element_type>(function_(std::move(value)...));
            }
          },
          values);
    } catch (...) {
      rethrow_from_constructor();
    }
    std::shared_ptr<element_type> pointer(raw, EntityDeleter{std::move(entity), [](void* object) {
                                                               delete static_cast<element_type*>(object);
                                                             }});
    return Object(std::move(pointer));
  }

 private:
  template <std::size_t... I>
  Values convert([[maybe_unused]] std::vector<CallArgument*>& slots,
                 [[maybe_unused]] const Resolver* resolver, [[maybe_unused]] Json& canonical,
                 std::index_sequence<I...>) const {
    // Braced initialization converts the parameters left to right, so canonical keeps signature order.
    return Values{convert_one<I>(slots[I], resolver, canonical)...};
  }

  template <std::size_t I>
  Param<I> convert_one(CallArgument* argument, const Resolver* resolver, Json& canonical) const {
    try {
      Param<I> value = argument ? from_argument<I>(*argument, resolver) : std::get<I>(defaults_)();
      if constexpr (entity_handle<Param<I>> || has_json_form<Param<I>>) {
        if (!is_excluded(I)) canonical[parameters()[I].name] = identity_form(value, IdentityStyle::canonical);
      }
      return value;
    } catch (const Error&) {
      rethrow_for_parameter(I);
    }
  }

  template <std::size_t I>
  Param<I> from_argument(CallArgument& argument, const Resolver* resolver) const {
    using Target = Param<I>;
    if constexpr (entity_handle<Target>) {
      const Object object = resolve_entity(argument, resolver, parameters()[I].type);
      Target handle = entity_traits<Target>::from_object(object);  // an empty object is None
      if (object && !entity_traits<Target>::to_object(handle)) argument_type_error(I, argument);
      return handle;
    } else {
      if constexpr (readable_from_json<Target>) {
        if (const Json* json = argument.json()) return value_traits<Target>::from_json(*json);
      }
      if (auto* value = std::any_cast<Target>(&argument.value)) return std::move(*value);
      if (!readable_from_json<Target> && argument.json()) code_only_error(I, argument, typeid(Target));
      argument_type_error(I, argument);
    }
  }

  Defaults defaults_;
  F function_;
};

template <class S>
std::string_view spec_name(const S& spec) {
  if constexpr (is_keyword_value_v<S>)
    return spec.name;
  else if constexpr (std::same_as<std::decay_t<S>, Arg>)
    return spec.name;
  else
    return std::string_view(spec);
}

/// A default given as a callable that makes a fresh value for each object (an entity, typically).
template <class V, class P>
concept default_factory_for = std::is_invocable_r_v<P, V&> && !std::constructible_from<P, V>;

template <class P, class V>
std::function<P()> make_default(V value) {
  if constexpr (default_factory_for<V, P>) {
    return [function = std::move(value)]() mutable -> P { return function(); };
  } else {
    static_assert(std::constructible_from<P, V>, "a default must convert to its parameter's type");
    return [held = P(std::move(value))]() -> P { return held; };
  }
}

inline constexpr std::size_t not_a_parameter = static_cast<std::size_t>(-1);

/// For each registration item, the index of the parameter it declares (or not_a_parameter).
template <class... S>
constexpr std::array<std::size_t, sizeof...(S)> parameter_indices() {
  std::size_t next = 0;
  return {(is_parameter_spec<std::decay_t<S>> ? next++ : not_a_parameter)...};
}

template <class Signature, class F, class... S>
std::unique_ptr<ClassInfo> make_class(F function, S&&... specs) {
  using Traits = signature_traits<Signature>;
  using T = typename Traits::result;
  using Values = typename Traits::parameters;
  using ClassType = ClassImpl<Signature, F>;
  static_assert(
      (std::size_t{0} + ... + (is_parameter_spec<std::decay_t<S>> ? 1 : 0)) == Traits::arity,
      "register_class needs exactly one name (or \"name\"_a = default) per parameter of the signature");

  typename ClassInfo::Definition definition;
  definition.type = typeid(T);
  definition.element = typeid(typename handle_traits<T>::element_type);
  definition.signature = typeid(Signature);
  definition.factory = typeid(F);
  definition.name = default_class_name<T>();
  definition.parameters.resize(Traits::arity);
  definition.default_factories.resize(Traits::arity);
  typename ClassType::Defaults defaults;

  constexpr auto indices = parameter_indices<S...>();
  auto take = [&]<std::size_t J, class Spec>(std::integral_constant<std::size_t, J>, Spec&& spec) {
    using D = std::decay_t<Spec>;
    constexpr std::size_t I = indices[J];
    if constexpr (std::same_as<D, RegisteredName>) {
      definition.name = spec.value;
      definition.registered_name = true;
    } else if constexpr (std::same_as<D, excluded_args>) {
      definition.excluded_positions.insert(definition.excluded_positions.end(), spec.positions.begin(),
                                           spec.positions.end());
    } else if constexpr (std::same_as<D, excluded_kwargs>) {
      definition.excluded_names.insert(definition.excluded_names.end(), spec.names.begin(), spec.names.end());
    } else {
      static_assert(
          I != not_a_parameter,
          "register_class takes parameter names, \"name\"_a = default, named(...), excluded_args{...}, "
          "excluded_kwargs{...} and (first) factory(...)");
      using Target = std::tuple_element_t<I, Values>;
      Parameter& parameter = definition.parameters[I];
      parameter.name = std::string(spec_name(spec));
      parameter.type = parameter_type_name<Target>();
      parameter.is_entity = entity_handle<Target>;
      parameter.has_json_form = has_json_form<Target>;
      if constexpr (is_keyword_value_v<D>) {
        using V = decltype(spec.value);
        parameter.has_default = true;
        std::get<I>(defaults) = make_default<Target>(std::forward<Spec>(spec).value);
        if constexpr (default_factory_for<V, Target>) {
          definition.default_factories[I] = std::type_index(typeid(V));
        } else if constexpr (has_json_form<Target>) {
          parameter.default_json = value_traits<Target>::to_json(std::get<I>(defaults)());
        }
      } else {
        std::get<I>(defaults) = [name = parameter.name]() -> Target {
          throw ArgumentError("", "missing required argument '" + name + "'");
        };
      }
    }
  };
  const auto take_all = [&]<std::size_t... J>(std::index_sequence<J...>) {
    [[maybe_unused]] auto items = std::forward_as_tuple(std::forward<S>(specs)...);
    // Each element forwarded as it was passed (forwarding the whole tuple once per element reads as
    // use after move to clang-tidy, though each get takes a different element).
    (take(std::integral_constant<std::size_t, J>{},
          std::forward<std::tuple_element_t<J, decltype(items)>>(std::get<J>(items))),
     ...);
  };
  take_all(std::index_sequence_for<S...>{});
  return std::make_unique<ClassType>(std::move(definition), std::move(defaults), std::move(function));
}

/// The parameter types a factory takes, as the signature T(P...) of the class T it builds.
template <class F>
struct call_signature : call_signature<decltype(&F::operator())> {};
template <class C, class R, class... A>
struct call_signature<R (C::*)(A...) const> {
  template <class T>
  using of = T(A...);
};
template <class C, class R, class... A>
struct call_signature<R (C::*)(A...)> : call_signature<R (C::*)(A...) const> {};
template <class R, class... A>
struct call_signature<R (*)(A...)> {
  template <class T>
  using of = T(A...);
};

/// A registration's signature: given as T(P...), or (with a factory) T alone and P... read from it.
template <class T, class F>
struct factory_signature {
  using type = typename call_signature<F>::template of<T>;
};
template <class T, class... P, class F>
struct factory_signature<T(P...), F> {
  using type = T(P...);
};

/// The class a registration's signature names: T for T(P...) and for T alone.
template <class Signature>
struct signature_result {
  using type = Signature;
};
template <class T, class... P>
struct signature_result<T(P...)> {
  using type = T;
};

template <class Signature, class F, class... S>
const ClassInfo& register_with(F function, S&&... specs) {
  using T = typename signature_traits<Signature>::result;
  const ClassInfo& info = add_class(make_class<Signature>(std::move(function), std::forward<S>(specs)...));
  registered_class<T>.store(&info, std::memory_order_release);
  return info;
}

}  // namespace detail

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
