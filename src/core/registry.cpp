#include "torchsystem/registry.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <mutex>
#include <numeric>
#include <unordered_set>

namespace torchsystem {
namespace {

std::string lowercase(std::string_view text) {
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::vector<std::string> detail::close_names(std::string_view name,
                                             const std::vector<std::string>& candidates, std::size_t limit) {
  const std::string wanted = lowercase(name);
  const std::size_t tolerance = std::max<std::size_t>(1, (wanted.size() + 1) / 3);
  std::vector<std::pair<std::size_t, std::size_t>> scored;  // (distance, candidate index)
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::string candidate = lowercase(candidates[i]);
    const bool prefix = !wanted.empty() && (candidate.starts_with(wanted) || wanted.starts_with(candidate));
    // The distance is at least the difference in length: a name sent by a client (a server's request
    // may hold megabytes) is not compared letter by letter with names it cannot be close to.
    const std::size_t gap = wanted.size() > candidate.size() ? wanted.size() - candidate.size()
                                                             : candidate.size() - wanted.size();
    if (!prefix && gap > tolerance) continue;
    const std::size_t distance = prefix ? (wanted == candidate ? 0 : 1) : edit_distance(wanted, candidate);
    if (distance <= tolerance) scored.emplace_back(distance, i);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> names;
  for (std::size_t i = 0; i < scored.size() && names.size() < limit; ++i) {
    names.push_back(candidates[scored[i].second]);
  }
  return names;
}

RegistryBase::RegistryBase(std::string description) : description_(std::move(description)) {}

RegistryBase::~RegistryBase() = default;

std::vector<std::string> RegistryBase::keys() const {
  std::shared_lock lock(mutex_);
  return order_;
}

bool RegistryBase::contains(std::string_view name) const {
  std::shared_lock lock(mutex_);
  return entries_.find(name) != entries_.end();
}

std::size_t RegistryBase::size() const {
  std::shared_lock lock(mutex_);
  return order_.size();
}

Json RegistryBase::signature(std::string_view name) const {
  return info(name).signature();
}

const ClassInfo& RegistryBase::info(std::string_view name) const {
  return *entry(name).cls;
}

RegistryBase::Entry RegistryBase::entry(std::string_view name) const {
  {
    std::shared_lock lock(mutex_);
    const auto found = entries_.find(name);
    if (found != entries_.end()) return found->second;
  }
  // Only this registry's names: entry() does not look in the registries included.
  throw UnknownNameError(std::string(name), detail::close_names(name, keys()), description_);
}

void RegistryBase::insert(std::string key, const ClassInfo& cls, Upcast upcast) {
  std::unique_lock lock(mutex_);
  const auto found = entries_.find(key);
  if (found != entries_.end()) {
    if (found->second.cls == &cls) return;
    throw RegistrationError(description_ + " already has \"" + key + "\" (" + found->second.cls->describe() +
                            "); cannot add " + cls.describe() + " under the same name");
  }
  entries_.emplace(key, Entry{&cls, upcast});
  order_.push_back(std::move(key));
}

namespace {

// Including is rare; one lock for the whole include graph makes "check for a cycle, then add the edge"
// a single step, so two registries cannot include each other from two threads at once.
std::mutex& include_graph_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

std::vector<const RegistryBase*> RegistryBase::lookup_order() const {
  // Depth first, in inclusion order, each registry once (diamonds are common, cycles are refused).
  std::vector<const RegistryBase*> order;
  std::unordered_set<const RegistryBase*> seen;
  std::vector<const RegistryBase*> pending{this};
  while (!pending.empty()) {
    const RegistryBase* current = pending.back();
    pending.pop_back();
    if (!seen.insert(current).second) continue;
    order.push_back(current);
    std::shared_lock lock(current->mutex_);
    pending.insert(pending.end(), current->included_.rbegin(), current->included_.rend());
  }
  return order;
}

void RegistryBase::include(const RegistryBase& other) {
  std::lock_guard graph(include_graph_mutex());
  const auto reachable = other.lookup_order();
  if (std::find(reachable.begin(), reachable.end(), this) != reachable.end()) {
    throw RegistrationError(description_ + " cannot include " + other.description_ +
                            ": that would include itself, directly or through others");
  }
  std::unique_lock lock(mutex_);
  if (std::find(included_.begin(), included_.end(), &other) == included_.end()) included_.push_back(&other);
}

const ClassInfo* RegistryBase::find_here(std::string_view name) const {
  std::shared_lock lock(mutex_);
  const auto found = entries_.find(name);
  return found == entries_.end() ? nullptr : found->second.cls;
}

const ClassInfo* RegistryBase::find(std::string_view name) const {
  // Own entries first, without walking the include graph: that is the common case.
  if (const ClassInfo* cls = find_here(name)) return cls;
  const auto order = lookup_order();
  for (auto registry = std::next(order.begin()); registry != order.end(); ++registry) {
    if (const ClassInfo* cls = (*registry)->find_here(name)) return cls;
  }
  return nullptr;
}

void RegistryBase::unknown_name(std::string_view name) const {
  throw UnknownNameError(std::string(name), suggest(name), description_);
}

std::vector<std::string> RegistryBase::suggest(std::string_view name) const {
  std::vector<std::string> names;
  for (const RegistryBase* registry : lookup_order()) {
    for (auto& key : registry->keys()) names.push_back(std::move(key));
  }
  return detail::close_names(name, names);
}

RegistryBase::Built RegistryBase::build(const Entry& entry, detail::CallArguments& arguments) const {
  return {entry.cls->build(arguments, this), entry.upcast};
}

RegistryBase::Built RegistryBase::build(std::string_view name, const Json& arguments,
                                        detail::CallArguments code) const {
  const Entry found = entry(name);
  return {found.cls->build_from_json(arguments, this, std::move(code)), found.upcast};
}

RegistryBase::Built RegistryBase::build(const Json& config, detail::CallArguments code) const {
  const auto fail = [](const std::string& reason) { throw ArgumentError("config", reason); };
  if (!config.is_object()) {
    fail(R"(expected an object {"name": ..., "arguments": {...}}, got )" + describe_json(config));
  }
  for (auto item = config.begin(); item != config.end(); ++item) {
    if (item.key() != "name" && item.key() != "arguments" && item.key() != "hash") {
      fail("unexpected key \"" + item.key() + R"(" (a configuration has "name", "arguments" and "hash"))");
    }
  }
  if (!config.contains("name") || !config["name"].is_string()) {
    fail("\"name\" must be the registered name as a string" +
         std::string(config.contains("name") ? ", got " + describe_json(config["name"]) : " and is missing"));
  }
  const Json empty = Json::object();
  const Json& arguments = config.contains("arguments") ? config["arguments"] : empty;
  if (config.contains("hash") && !config["hash"].is_string()) {
    fail("\"hash\" must be a string, got " + describe_json(config["hash"]));
  }
  const Entry found = entry(config["name"].get_ref<const std::string&>());
  Object object = found.cls->build_from_json(arguments, this, std::move(code));
  // A hash fixed with sethash is part of the identity getmetadata reports; keep it across the round trip.
  if (config.contains("hash")) require_record(object).set_hash(config["hash"].get<std::string>());
  return {std::move(object), found.upcast};
}

void RegistryBase::handle_type_error(const Object& object, std::string_view handle) const {
  const EntityRecord* record = object.record();
  const std::string name = record ? record->cls().name() : unqualified_type_name(object.type());
  throw ArgumentError(name, "was built, but it cannot be handed out as " + std::string(handle));
}

}  // namespace torchsystem
