#include "torchsystem/registration.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <typeindex>
#include <unordered_map>

#include "torchsystem/identity.hpp"

namespace torchsystem {

using detail::CallArgument;
using detail::CallArguments;
using detail::Resolver;

namespace {

// Entities named in a configuration are built recursively; a bound keeps a hostile configuration
// from exhausting the stack.
constexpr int max_entity_nesting = 200;
thread_local int entity_nesting = 0;

class NestingGuard {
 public:
  NestingGuard() {
    if (++entity_nesting > max_entity_nesting) {
      --entity_nesting;
      throw ArgumentError("",
                          "entities nested deeper than " + std::to_string(max_entity_nesting) + " levels");
    }
  }
  ~NestingGuard() { --entity_nesting; }
  NestingGuard(const NestingGuard&) = delete;
  NestingGuard& operator=(const NestingGuard&) = delete;
};

template <class Range, class Value>
bool contains(const Range& range, const Value& value) {
  return std::find(range.begin(), range.end(), value) != range.end();
}

std::string describe_argument(const CallArgument& argument) {
  if (argument.entity) {
    if (const EntityRecord* record = argument.entity.record()) return "a " + record->name();
    return "a " + unqualified_type_name(argument.entity.type()) + " not created through torchsystem";
  }
  if (const Json* json = argument.json()) return describe_json(*json);
  if (argument.cpp_type) return "a C++ " + unqualified_type_name(*argument.cpp_type);
  return "nothing";
}

std::string join_names(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

}  // namespace

ClassInfo::ClassInfo(Definition definition, std::vector<Conversion> conversions)
    : definition_(std::move(definition)), conversions_(std::move(conversions)) {
  validate();
}

ClassInfo::~ClassInfo() = default;

void ClassInfo::validate() const {
  const auto fail = [this](const std::string& reason) {
    throw RegistrationError("cannot register " + name() + ": " + reason);
  };
  if (name().empty()) fail("the name is empty");
  const auto require_text = [&](const std::string& text, std::string_view what) {
    try {
      require_utf8(text, what);
    } catch (const IdentityError& error) {
      fail(error.what());
    }
  };
  require_text(name(), "the class name");
  bool seen_default = false;
  for (std::size_t i = 0; i < definition_.parameters.size(); ++i) {
    const Parameter& parameter = definition_.parameters[i];
    if (parameter.name.empty()) fail("parameter " + std::to_string(i) + " has an empty name");
    require_text(parameter.name, "a parameter name");
    for (std::size_t j = 0; j < i; ++j) {
      if (definition_.parameters[j].name == parameter.name)
        fail("parameter '" + parameter.name + "' is declared twice");
    }
    if (seen_default && !parameter.has_default) {
      fail("parameter '" + parameter.name + "' without a default follows a parameter with one");
    }
    seen_default = seen_default || parameter.has_default;
    if (!parameter.has_json_form && !parameter.is_entity && !is_excluded(i)) {
      fail("parameter '" + parameter.name +
           "' has a type with no identity form; exclude it with excluded_args or excluded_kwargs, or declare "
           "value_traits for its type");
    }
  }
  for (std::size_t position : definition_.excluded_positions) {
    if (position >= definition_.parameters.size()) {
      fail("excluded position " + std::to_string(position) + " is past the last parameter");
    }
  }
  for (const auto& excluded : definition_.excluded_names) {
    const bool known = std::any_of(definition_.parameters.begin(), definition_.parameters.end(),
                                   [&](const Parameter& parameter) { return parameter.name == excluded; });
    if (!known) fail("excluded keyword '" + excluded + "' is not a parameter");
  }
}

bool ClassInfo::is_excluded(std::size_t index) const {
  return contains(definition_.excluded_positions, index) ||
         contains(definition_.excluded_names, definition_.parameters[index].name);
}

Json ClassInfo::signature() const {
  Json signature = Json::object();
  for (std::size_t i = 0; i < definition_.parameters.size(); ++i) {
    if (!is_excluded(i)) signature[definition_.parameters[i].name] = definition_.parameters[i].type;
  }
  return signature;
}

std::string ClassInfo::describe() const {
  std::string text = name() + "(";
  for (std::size_t i = 0; i < definition_.parameters.size(); ++i) {
    const Parameter& parameter = definition_.parameters[i];
    text += (i ? ", " : "") + parameter.name + ": " + parameter.type;
    if (parameter.default_json)
      text += " = " + describe_json(*parameter.default_json);
    else if (parameter.has_default)
      text += " = <computed>";
  }
  text += ")";
  if (definition_.registered_name) text += " named";
  if (!definition_.excluded_positions.empty()) {
    std::string positions;
    for (std::size_t position : definition_.excluded_positions)
      positions += (positions.empty() ? "" : ", ") + std::to_string(position);
    text += " excluded_args{" + positions + "}";
  }
  if (!definition_.excluded_names.empty())
    text += " excluded_kwargs{" + join_names(definition_.excluded_names) + "}";
  return text;
}

std::vector<CallArgument*> ClassInfo::bind(CallArguments& arguments) const {
  std::vector<CallArgument*> slots(definition_.parameters.size(), nullptr);
  const auto positional = static_cast<std::size_t>(
      std::count_if(arguments.begin(), arguments.end(),
                    [](const CallArgument& argument) { return argument.keyword.empty(); }));
  if (positional > definition_.parameters.size()) {
    throw ArgumentError(name(), "takes " + std::to_string(definition_.parameters.size()) +
                                    " positional argument" + (definition_.parameters.size() == 1 ? "" : "s") +
                                    " but " + std::to_string(positional) +
                                    (positional == 1 ? " was given" : " were given"));
  }
  std::size_t next = 0;
  bool seen_keyword = false;
  for (CallArgument& argument : arguments) {
    if (argument.keyword.empty()) {
      if (seen_keyword) throw ArgumentError(name(), "a positional argument follows a keyword argument");
      slots[next++] = &argument;
      continue;
    }
    seen_keyword = true;
    const auto found =
        std::find_if(definition_.parameters.begin(), definition_.parameters.end(),
                     [&](const Parameter& parameter) { return parameter.name == argument.keyword; });
    if (found == definition_.parameters.end()) {
      std::vector<std::string> names;
      for (const auto& parameter : definition_.parameters) names.push_back(parameter.name);
      const auto close = detail::close_names(argument.keyword, names, 1);
      throw ArgumentError(
          name() + "." + std::string(argument.keyword),
          "unknown parameter" + (close.empty() ? "" : "; did you mean '" + close.front() + "'?") + " (" +
              name() + " takes: " + (names.empty() ? "no parameters" : join_names(names)) + ")");
    }
    const auto index = static_cast<std::size_t>(found - definition_.parameters.begin());
    if (slots[index]) throw ArgumentError(name() + "." + found->name, "got multiple values");
    slots[index] = &argument;
  }
  for (std::size_t i = 0; i < definition_.parameters.size(); ++i) {
    if (!slots[i] && !definition_.parameters[i].has_default) {
      // A parameter with no JSON form can only come from code, beside a configuration.
      const std::string hint = definition_.parameters[i].has_json_form || definition_.parameters[i].is_entity
                                   ? ""
                                   : " (it has no JSON form: pass it in code)";
      throw ArgumentError(name() + "." + definition_.parameters[i].name,
                          "missing required argument of type " + definition_.parameters[i].type + hint);
    }
  }
  return slots;
}

Object ClassInfo::build(CallArguments& arguments, const Resolver* resolver) const {
  std::vector<CallArgument*> slots = bind(arguments);
  return make(arguments, slots, resolver);
}

Object ClassInfo::build_from_json(const Json& arguments, const Resolver* resolver, CallArguments code) const {
  if (!arguments.is_object()) {
    throw ArgumentError(name(), "arguments must be a JSON object, got " + describe_json(arguments));
  }
  CallArguments call;
  call.reserve(arguments.size() + code.size());
  for (CallArgument& argument : code) {
    if (argument.keyword.empty()) call.push_back(std::move(argument));
  }
  for (auto item = arguments.begin(); item != arguments.end(); ++item) {
    CallArgument& argument = call.emplace_back();
    argument.keyword = item.key();
    argument.refer_to_json(item.value());
  }
  for (CallArgument& argument : code) {
    if (!argument.keyword.empty()) call.push_back(std::move(argument));
  }
  return build(call, resolver);
}

Json ClassInfo::record(const CallArguments& arguments) const {
  Json recorded = Json::object();
  std::size_t position = 0;
  for (const CallArgument& argument : arguments) {
    std::size_t index = 0;
    if (argument.keyword.empty()) {
      index = position++;
      if (contains(definition_.excluded_positions, index)) continue;
    } else {
      if (contains(definition_.excluded_names, argument.keyword)) continue;
      while (definition_.parameters[index].name != argument.keyword) ++index;
    }
    const std::string& key = definition_.parameters[index].name;
    if (argument.entity) {
      const EntityRecord* entity = argument.entity.record();
      if (!entity) {
        throw ArgumentError(name() + "." + key, "the " + unqualified_type_name(argument.entity.type()) +
                                                    " passed has no identity: it was not created through "
                                                    "torchsystem (create it with create<T> or a Registry, or "
                                                    "exclude this parameter)");
      }
      recorded[key] = entity->argument_form(IdentityStyle::python);
    } else if (const Json* json = argument.json()) {
      recorded[key] = *json;
    }
    // A value with no JSON form has no Python identity at all (the reference could not dump it): it can
    // only reach here through a parameter excluded the other way (by name when passed by position, or by
    // position when passed by name), and it stays out of the identity.
  }
  return recorded;
}

void ClassInfo::rethrow_for_parameter(std::size_t index) const {
  const std::string here = name() + "." + definition_.parameters[index].name;
  try {
    throw;
  } catch (const ArgumentError& error) {
    error.rethrow_at(error.path().empty() ? here : here + " -> " + error.path());
  } catch (const NotAnEntityError& error) {
    throw ArgumentError(here, error.what());
  }
}

void ClassInfo::rethrow_from_constructor() const {
  try {
    throw;
  } catch (const ArgumentError& error) {
    error.rethrow_at(error.path().empty() ? name() : name() + "." + error.path());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {
    // Libraries such as LibTorch append a backtrace after the first line; the message keeps the reason.
    const std::string_view what = error.what();
    std::throw_with_nested(ArgumentError(name(), std::string(what.substr(0, what.find('\n')))));
  }
}

std::any ClassInfo::convert(const Object& object, const std::type_info& target) const {
  for (const Conversion& conversion : conversions_) {
    if (*conversion.target == target) return conversion.convert(object);
  }
  return {};
}

void ClassInfo::argument_type_error(std::size_t index, const CallArgument& argument) const {
  throw ArgumentError(
      "", "expected " + definition_.parameters[index].type + ", got " + describe_argument(argument));
}

void ClassInfo::code_only_error(std::size_t index, const CallArgument& argument,
                                const std::type_info& type) const {
  throw ArgumentError("", "a " + unqualified_type_name(type) +
                              " has no JSON form, so it cannot come from a configuration (got " +
                              describe_argument(argument) + "); pass " + definition_.parameters[index].name +
                              " in code beside it");
}

Object ClassInfo::resolve_entity(CallArgument& argument, const Resolver* resolver,
                                 std::string_view expected) const {
  if (argument.entity) return argument.entity;
  if (argument.json() && argument.json()->is_null()) return {};  // None
  const auto form_error = [&] {
    return ArgumentError("", "expected " + std::string(expected) +
                                 R"( (a registered name or {"name": ..., "arguments": {...}}), got )" +
                                 describe_argument(argument));
  };
  if (!argument.json()) throw form_error();
  const Json& form = *argument.json();
  const Json* name = &form;
  const Json* arguments = nullptr;
  if (form.is_object()) {
    for (auto item = form.begin(); item != form.end(); ++item) {
      if (item.key() != "name" && item.key() != "arguments") throw form_error();
    }
    if (!form.contains("name")) throw form_error();
    name = &form["name"];
    if (form.contains("arguments")) arguments = &form["arguments"];
  }
  if (!name->is_string()) throw form_error();
  const auto& text = name->get_ref<const std::string&>();
  if (!resolver) {
    throw ArgumentError("",
                        "cannot build \"" + text +
                            "\" from its name here: names are resolved by a Registry (Registry::create or "
                            "Registry::get)");
  }
  const ClassInfo* cls = resolver->find(text);
  if (!cls) resolver->unknown_name(text);
  const NestingGuard guard;
  argument.entity = cls->build_from_json(arguments ? *arguments : Json::object(), resolver);
  return argument.entity;
}

std::unique_ptr<EntityRecord> ClassInfo::make_record(Json arguments, Json canonical) const {
  return std::make_unique<EntityRecord>(*this, std::move(arguments), std::move(canonical));
}

namespace {

struct ClassTable {
  std::mutex mutex;
  std::unordered_map<std::type_index, std::unique_ptr<ClassInfo>> classes;
};

ClassTable& class_table() {
  static ClassTable table;
  return table;
}

}  // namespace

const ClassInfo& detail::add_class(std::unique_ptr<ClassInfo> definition) {
  ClassTable& table = class_table();
  std::lock_guard lock(table.mutex);
  auto [slot, inserted] = table.classes.try_emplace(std::type_index(definition->type()), nullptr);
  if (inserted) {
    slot->second = std::move(definition);
    return *slot->second;
  }
  if (slot->second->same_definition(*definition)) return *slot->second;
  throw RegistrationError("conflicting registration of " + unqualified_type_name(definition->type()) +
                          ": it is registered as " + slot->second->describe() + ", not as " +
                          definition->describe());
}

const ClassInfo& detail::require_class(const ClassInfo* cls, const std::type_info& type) {
  if (cls) return *cls;
  const std::string name = unqualified_type_name(type);
  throw RegistrationError(name + " is not registered: call torchsystem::register_class<" + name +
                          "(...)>(parameter names...) before creating one");
}

}  // namespace torchsystem
