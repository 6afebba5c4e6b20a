#include "torchsystem/entity.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <shared_mutex>
#include <typeindex>
#include <unordered_map>

#include "torchsystem/identity.hpp"
#include "torchsystem/registration.hpp"

namespace torchsystem {
namespace {

std::atomic<std::size_t> live_count{0};

// Base-class offsets found by the exception-based cast, per (most-derived type, base type).
struct OffsetCache {
  struct Hash {
    std::size_t operator()(const std::pair<std::type_index, std::type_index>& key) const noexcept {
      return key.first.hash_code() * 31 + key.second.hash_code();
    }
  };
  std::shared_mutex mutex;
  std::unordered_map<std::pair<std::type_index, std::type_index>, std::ptrdiff_t, Hash> offsets;
};

OffsetCache& offset_cache() {
  static OffsetCache cache;
  return cache;
}

}  // namespace

EntityRecord::EntityRecord(const ClassInfo& cls, Json arguments, Json canonical)
    : cls_(&cls), arguments_(std::move(arguments)), canonical_(std::move(canonical)) {
  if (cls.has_registered_name()) name_ = cls.name();
  live_count.fetch_add(1, std::memory_order_relaxed);
}

EntityRecord::~EntityRecord() {
  live_count.fetch_sub(1, std::memory_order_relaxed);
}

std::optional<std::ptrdiff_t> Object::find_base_offset(const std::type_info& type,
                                                       const std::type_info& base) {
  OffsetCache& cache = offset_cache();
  std::shared_lock lock(cache.mutex);
  const auto found = cache.offsets.find({type, base});
  if (found == cache.offsets.end()) return std::nullopt;
  return found->second;
}

void Object::store_base_offset(const std::type_info& type, const std::type_info& base,
                               std::ptrdiff_t offset) {
  OffsetCache& cache = offset_cache();
  std::unique_lock lock(cache.mutex);
  cache.offsets.emplace(std::pair<std::type_index, std::type_index>{type, base}, offset);
}

bool Object::created_as(const EntityRecord* record, const std::type_info& type) noexcept {
  return record && record->cls().element_type() == type;
}

std::size_t live_entities() noexcept {
  return live_count.load(std::memory_order_relaxed);
}

std::string EntityRecord::name() const {
  std::lock_guard lock(mutex_);
  return name_ ? *name_ : cls_->name();
}

std::optional<std::string> EntityRecord::explicit_name() const {
  std::lock_guard lock(mutex_);
  return name_;
}

std::optional<std::string> EntityRecord::explicit_hash() const {
  std::lock_guard lock(mutex_);
  return hash_;
}

std::string EntityRecord::hash(IdentityStyle style) const {
  if (style == IdentityStyle::python) {
    if (auto fixed = explicit_hash()) return *fixed;
  }
  return identity_hash(name(), arguments(style));
}

void EntityRecord::set_name(std::optional<std::string> name) const {
  // As the reference: no name (or an empty one) fixes the name the entity has now.
  std::string value = name && !name->empty() ? std::move(*name) : this->name();
  std::lock_guard lock(mutex_);
  name_ = std::move(value);
}

void EntityRecord::set_hash(std::optional<std::string> hash) const {
  std::string value = hash && !hash->empty() ? std::move(*hash) : this->hash(IdentityStyle::python);
  std::lock_guard lock(mutex_);
  hash_ = std::move(value);
}

Json EntityRecord::metadata() const {
  Json metadata = Json::object();
  std::lock_guard lock(mutex_);
  if (hash_) metadata["hash"] = *hash_;
  if (name_) metadata["name"] = *name_;
  metadata["arguments"] = arguments_;
  return metadata;
}

Json EntityRecord::argument_form(IdentityStyle style) const {
  const Json& captured = arguments(style);
  if (captured.empty()) return name();
  Json form = Json::object();
  form["name"] = name();
  form["arguments"] = captured;
  return form;
}

const EntityRecord& require_record(const Object& object) {
  if (const EntityRecord* record = object.record()) return *record;
  if (!object) throw NotAnEntityError("the handle is empty: there is no object to take an identity from");
  throw NotAnEntityError("this " + unqualified_type_name(object.type()) +
                         " was not created through torchsystem, so it has no recorded identity; create it "
                         "with torchsystem::create<T>(...) or a Registry");
}

std::string unqualified_type_name(std::type_index type) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  std::string name = status == 0 && demangled ? demangled.get() : type.name();
  // Drop the namespaces of the outermost name only: `app::Box<app::Item>` becomes `Box<app::Item>`.
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '<' || c == '(') ++depth;
    if (c == '>' || c == ')') --depth;
    if (depth == 0 && c == ':' && i + 1 < name.size() && name[i + 1] == ':') start = i + 2;
  }
  return name.substr(start);
}

}  // namespace torchsystem
