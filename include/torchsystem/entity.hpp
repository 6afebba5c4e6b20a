// Entities: objects whose identity is their registered name plus the arguments they were built with.
//
// An object created through the library carries an EntityRecord in the control block of its shared
// handle (inside the deleter), so its metadata lives exactly as long as the object, every copy of the
// handle shares it, and reading it needs no global table and no lock. The accessors mirror the Python
// reference: getarguments, gethash, getname, setname, sethash, getmetadata.
//
// Two identities are kept. IdentityStyle::python is the reference's, byte for byte: the arguments as
// they were passed (positional ones under their parameter names, then keyword ones in call order,
// defaults that were not passed left out), hashed as md5(name + json.dumps(arguments)).
// IdentityStyle::canonical does not depend on call style: every parameter in signature order, defaults
// filled in, values converted to their declared types. See docs/identity.md.
#pragma once

#include <any>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "torchsystem/error.hpp"
#include "torchsystem/extension.hpp"
#include "torchsystem/json.hpp"

namespace torchsystem {

class ClassInfo;

enum class IdentityStyle {
  python,     ///< The reference's identity: arguments as passed. The default.
  canonical,  ///< Signature order, defaults filled in, values in their declared types.
};

/// The metadata of one entity. Arguments are fixed at creation; name and hash can be set later.
class EntityRecord {
 public:
  EntityRecord(const ClassInfo& cls, Json arguments, Json canonical);
  ~EntityRecord();
  EntityRecord(const EntityRecord&) = delete;
  EntityRecord& operator=(const EntityRecord&) = delete;

  const ClassInfo& cls() const noexcept { return *cls_; }
  const Json& arguments(IdentityStyle style) const noexcept {
    return style == IdentityStyle::python ? arguments_ : canonical_;
  }
  std::string name() const;
  /// The name set by registration or setname, if any (the reference's `__model__name__`).
  std::optional<std::string> explicit_name() const;
  std::string hash(IdentityStyle style) const;
  /// The hash set by sethash, if any (the reference's `__model__hash__`).
  std::optional<std::string> explicit_hash() const;
  void set_name(std::optional<std::string> name) const;
  void set_hash(std::optional<std::string> hash) const;
  Json metadata() const;
  /// How the entity is recorded when passed as an argument: its name when its arguments are empty,
  /// otherwise {"name": ..., "arguments": {...}}.
  Json argument_form(IdentityStyle style) const;

 private:
  const ClassInfo* cls_;
  const Json arguments_;
  const Json canonical_;
  mutable std::mutex mutex_;  // guards name_ and hash_
  mutable std::optional<std::string> name_;
  mutable std::optional<std::string> hash_;
};

/// The number of entities alive in this process; it returns to its old value when they are destroyed.
std::size_t live_entities() noexcept;

namespace detail {

/// The deleter of every handle the library creates; it owns the entity's record.
struct EntityDeleter {
  std::unique_ptr<EntityRecord> record;
  void (*destroy)(void*);

  template <class T>
  void operator()(T* object) {
    destroy(const_cast<std::remove_const_t<T>*>(object));
    record.reset();
  }
};

/// The record of the entity that owns `pointer`'s control block, or nullptr.
template <class T>
const EntityRecord* find_record(const std::shared_ptr<T>& pointer) noexcept {
  const auto* deleter = std::get_deleter<EntityDeleter>(pointer);
  return deleter ? deleter->record.get() : nullptr;
}

}  // namespace detail

/// A type-erased shared handle to an object, able to hand it back as any public base class.
class Object {
 public:
  Object() = default;

  template <class U>
  explicit Object(std::shared_ptr<U> pointer)
      : pointer_(std::const_pointer_cast<std::remove_const_t<U>>(std::move(pointer))),
        type_(&typeid(std::remove_const_t<U>)),
        throw_pointer_([](void* raw) { throw static_cast<std::remove_const_t<U>*>(raw); }),
        exact_(created_as(record(), *type_)) {}

  explicit operator bool() const noexcept { return pointer_ != nullptr; }
  const std::type_info& type() const noexcept { return type_ ? *type_ : typeid(void); }
  const EntityRecord* record() const noexcept { return detail::find_record(pointer_); }

  /// The object as a B, sharing ownership; nullptr when it is not a B.
  template <class B>
  std::shared_ptr<B> as() const {
    if (!pointer_) return nullptr;
    if (*type_ == typeid(B)) return std::static_pointer_cast<B>(pointer_);
    // For an object the library created as exactly U, base offsets are the same for every object.
    if (exact_) {
      if (const auto offset = find_base_offset(*type_, typeid(B))) {
        if (*offset == not_a_base) return nullptr;
        return std::shared_ptr<B>(pointer_,
                                  reinterpret_cast<B*>(static_cast<char*>(pointer_.get()) + *offset));
      }
    }
    // The static type is erased; the exception machinery still knows the derived-to-base conversions.
    B* base = nullptr;
    try {
      throw_pointer_(pointer_.get());
    } catch (B* caught) {
      base = caught;
    } catch (...) {
    }
    if (exact_) {
      store_base_offset(
          *type_, typeid(B),
          base ? reinterpret_cast<char*>(base) - static_cast<char*>(pointer_.get()) : not_a_base);
    }
    return base ? std::shared_ptr<B>(pointer_, base) : nullptr;
  }

 private:
  static constexpr std::ptrdiff_t not_a_base = PTRDIFF_MIN;
  /// True when the library created the object as exactly `type` (its dynamic type is then `type`).
  static bool created_as(const EntityRecord* record, const std::type_info& type) noexcept;
  static std::optional<std::ptrdiff_t> find_base_offset(const std::type_info& type,
                                                        const std::type_info& base);
  static void store_base_offset(const std::type_info& type, const std::type_info& base,
                                std::ptrdiff_t offset);

  std::shared_ptr<void> pointer_;
  const std::type_info* type_ = nullptr;
  void (*throw_pointer_)(void*) = nullptr;
  bool exact_ = false;
};

namespace detail {

/// The default registered name of T: handle_traits<T>::type_name() if given, else the element's name.
template <class T>
std::string default_class_name();

/// Runs handle_traits<T>::prepare() when the layer that owns T declares one.
template <class T>
void prepare_class() {
  if constexpr (requires { handle_traits<T>::prepare(); }) handle_traits<T>::prepare();
}

}  // namespace detail

/// The unqualified name of a C++ type, as Python's `__name__` would give it: `Model` for `app::Model`.
std::string unqualified_type_name(std::type_index type);

template <class T>
std::string detail::default_class_name() {
  if constexpr (requires { handle_traits<T>::type_name(); })
    return handle_traits<T>::type_name();
  else
    return unqualified_type_name(typeid(typename handle_traits<T>::element_type));
}

/// An entity_traits specialization gives to_object, from_object (an empty Object gives an empty handle)
/// and type_name (as signatures show the parameter type).
template <class U>
struct entity_traits<std::shared_ptr<U>> {
  static Object to_object(const std::shared_ptr<U>& handle) { return Object(handle); }
  static std::shared_ptr<U> from_object(const Object& object) { return object.as<U>(); }
  static std::string type_name() { return unqualified_type_name(typeid(U)); }
};

template <class H>
concept entity_handle = requires(const H& handle, const Object& object) {
  { entity_traits<H>::to_object(handle) } -> std::same_as<Object>;
  { entity_traits<H>::from_object(object) } -> std::convertible_to<H>;
};

/// The record of `handle`'s entity; throws NotAnEntityError when it was not created through the library.
const EntityRecord& require_record(const Object& object);

template <entity_handle H>
const EntityRecord& record_of(const H& handle) {
  return require_record(entity_traits<H>::to_object(handle));
}

/// True when `handle` refers to an object created through the library.
template <entity_handle H>
bool is_entity(const H& handle) {
  return entity_traits<H>::to_object(handle).record() != nullptr;
}

/// The arguments recorded when the object was created (the reference's `getarguments`).
template <entity_handle H>
const Json& getarguments(const H& handle, IdentityStyle style = IdentityStyle::python) {
  return record_of(handle).arguments(style);
}

/// md5(name + json.dumps(arguments)) in lowercase hex, or the hash set by sethash (python style only).
template <entity_handle H>
std::string gethash(const H& handle, IdentityStyle style = IdentityStyle::python) {
  return record_of(handle).hash(style);
}

/// The name set by registration or setname, else the registered class's name.
template <entity_handle H>
std::string getname(const H& handle) {
  return record_of(handle).name();
}

/// Sets the name; without one (or with an empty one) it fixes the current name, as the reference does.
template <entity_handle H>
void setname(const H& handle, std::optional<std::string> name = std::nullopt) {
  record_of(handle).set_name(std::move(name));
}
template <entity_handle H>
void setname(const H& handle, const char* name) {
  record_of(handle).set_name(std::string(name));
}

/// Sets the hash; without one (or with an empty one) it fixes the current hash, as the reference does.
template <entity_handle H>
void sethash(const H& handle, std::optional<std::string> hash = std::nullopt) {
  record_of(handle).set_hash(std::move(hash));
}
template <entity_handle H>
void sethash(const H& handle, const char* hash) {
  record_of(handle).set_hash(std::string(hash));
}

/// {"hash", "name", "arguments"}, each present under the reference's rules: hash once set by sethash,
/// name once set by a registered name or setname, arguments always (the object was created here).
template <entity_handle H>
Json getmetadata(const H& handle) {
  return record_of(handle).metadata();
}

/// The registered class the object was created from.
template <entity_handle H>
const ClassInfo& getclass(const H& handle) {
  return record_of(handle).cls();
}

}  // namespace torchsystem
