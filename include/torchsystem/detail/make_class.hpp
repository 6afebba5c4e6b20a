// Machinery of registration.hpp, which includes this file once ClassInfo is complete (include that
// header instead): the process-wide table of classes, signature and factory traits, and the building of a
// ClassInfo from a registration. Not part of the public surface: it may change in any release.
#pragma once

// Included from the middle of torchsystem/registration.hpp only.
namespace torchsystem {

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

}  // namespace torchsystem
