// The API's routes: registry, identity, builds, checkpoints and OIP inference (see api.hpp).
#include "api.hpp"

#include <torch/optim/optimizer.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <limits>
#include <system_error>

#include "api_support.hpp"
#include "inference.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/allocation_limit.hpp"
#include "torchsystem/torch/module.hpp"
#include "torchsystem/torch/registries.hpp"

namespace torchsystem::server {
namespace {

namespace fs = std::filesystem;

Response answer(const Json& body, unsigned status = 200) {
  return json_response(body.dump(-1, ' ', false, Json::error_handler_t::replace), status);
}

/// Runs a handler, turning the library's exceptions into their HTTP answers.
template <class F>
Response guarded(F&& handler) {
  try {
    return handler();
  } catch (const ApiError& e) {
    Json body = {{"error", e.what()}, {"code", e.code()}};
    for (const auto& [key, value] : e.extra().items()) body[key] = value;
    return answer(body, e.status());
  } catch (const JsonError& e) {
    return answer({{"error", e.what()}, {"code", "invalid_json"}}, 400);
  } catch (const UnknownNameError& e) {
    // A name at the top of a request is a resource (404); nested in a configuration, it is an argument.
    Json body = {
        {"error", e.what()}, {"code", "unknown_name"}, {"name", e.name()}, {"suggestions", e.suggestions()}};
    if (e.path().empty()) return answer(body, 404);
    body["path"] = e.path();
    return answer(body, 400);
  } catch (const ArgumentError& e) {
    return answer(
        {{"error", e.what()}, {"code", "invalid_argument"}, {"path", e.path()}, {"reason", e.reason()}}, 400);
  } catch (const IdentityError& e) {
    return answer({{"error", e.what()}, {"code", "invalid_argument"}}, 400);
  }
}

/// The body as a JSON object; 400 otherwise.
Json body_object(const Request& request) {
  Json body = parse_json(request.body);
  if (!body.is_object()) throw ApiError(400, "invalid_request", "the body must be a JSON object");
  return body;
}

/// {"name": NAME, "arguments": {...}} with `arguments` optional: the pair an identity is made of.
std::pair<std::string, Json> name_and_arguments(const Json& body) {
  if (!body.contains("name") || !body["name"].is_string())
    throw ApiError(400, "invalid_argument", "\"name\" must be a string", {{"path", "name"}});
  Json arguments = body.contains("arguments") ? body["arguments"] : Json::object();
  if (!arguments.is_object())
    throw ApiError(400, "invalid_argument", "\"arguments\" must be an object", {{"path", "arguments"}});
  return {body["name"].get<std::string>(), std::move(arguments)};
}

/// A query parameter as a count from 0 to `max`, or `fallback` when absent.
std::size_t count_parameter(const Request& request, std::string_view key, std::size_t fallback,
                            std::size_t max) {
  const auto text = request.query_value(key);
  if (!text) return fallback;
  std::size_t value = 0;
  bool valid = !text->empty() && text->size() <= 9;
  for (const char c : *text) {
    valid = valid && c >= '0' && c <= '9';
    if (valid) value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  if (!valid || value > max)
    throw ApiError(400, "invalid_argument",
                   std::string(key) + " must be an integer from 0 to " + std::to_string(max),
                   {{"path", key}});
  return value;
}

}  // namespace

void check_key(const std::string& name, const std::string& hash) {
  const bool hex = hash.size() == 32 && hash.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex)
    throw ApiError(400, "invalid_key", "a hash is 32 lowercase hexadecimal digits", {{"path", "hash"}});
  if (!CheckpointStore::identity_fault(name, hash).empty())
    throw ApiError(400, "invalid_key", "a name is ASCII letters, digits, '_', '-' and '.'",
                   {{"path", "name"}});
}

namespace {

/// Runs a lookup of the store, turning its faults into the API's answers.
template <class F>
auto store_lookup(const CheckpointStore& store, const std::string& name, const std::string& hash,
                  F&& lookup) {
  check_key(name, hash);
  try {
    auto found = lookup();
    if (!found) throw ApiError(404, "not_found", "no checkpoint " + name + "-" + hash + " in the store");
    return std::move(*found);
  } catch (const ForeignFileError&) {
    throw ApiError(403, "forbidden",
                   "the checkpoint " + name + "-" + hash + " is not a regular file of the store");
  } catch (const CheckpointError& e) {
    throw ApiError(500, "damaged_checkpoint", store_message(e, store.directory()));
  }
}

}  // namespace

std::string store_message(const CheckpointError& error, const std::filesystem::path& store) {
  std::string_view reason = error.what();
  const std::string& path = error.path();
  if (reason.starts_with(path + ": ")) reason.remove_prefix(path.size() + 2);
  const std::filesystem::path relative = std::filesystem::path(path).lexically_relative(store);
  const bool inside = !relative.empty() && relative != "." && *relative.begin() != "..";
  return (inside ? relative.string() : std::string("the store")) + ": " + std::string(reason);
}

CheckpointInfo find_checkpoint(const CheckpointStore& store, const std::string& name,
                               const std::string& hash) {
  return store_lookup(store, name, hash, [&] { return store.find(name, hash); });
}

Checkpoint read_checkpoint(const CheckpointStore& store, const std::string& name, const std::string& hash) {
  Checkpoint checkpoint = store_lookup(store, name, hash, [&] { return store.read(name, hash); });
  const CheckpointInfo& info = checkpoint.info();
  if (info.name != name || info.hash != hash)
    throw ApiError(500, "damaged_checkpoint", "the file of " + name + "-" + hash + " holds another identity");
  return checkpoint;
}

struct Api::Impl {
  ApiOptions options;
  ModelCache models;

  explicit Impl(ApiOptions given)
      : options(std::move(given)),
        models(options.store, options.registries, options.max_models, options.load_limits) {}

  // ---- registry ----

  /// The group holding `name`, first match in lookup order; 404 with close names otherwise.
  RegistryGroup require_group(const std::string& name) const {
    return options.registries.find(name, "the registry", 5);
  }

  Json type_json(const RegistryGroup& group, const std::string& name) const {
    return {{"name", name},
            {"kind", group.kind},
            {"signature", group.registry->signature(name)},
            {"text", group.registry->info(name).describe()}};
  }

  Response types() const {
    Json list = Json::array();
    for (const RegistryGroup& group : options.registries.groups()) {
      for (const auto& name : group.registry->keys()) {
        // A plugin's name shadows a catalog module's: list each name once, as lookups find it.
        if (require_group(name).registry == group.registry) list.push_back(type_json(group, name));
      }
    }
    return answer({{"types", std::move(list)}});
  }

  Response type(const Request& request) const {
    const std::string& name = request.params.at("name");
    return answer(type_json(require_group(name), name));
  }

  static Response identity(const Request& request) {
    const auto [name, arguments] = name_and_arguments(body_object(request));
    const std::string text = identity_text(name, arguments);
    return answer({{"name", name}, {"arguments", arguments}, {"hash", md5_hex(text)}, {"text", text}});
  }

  Response build(const Request& request) const {
    const Json body = body_object(request);
    const auto [name, arguments] = name_and_arguments(body);
    RegistryGroup group;
    try {
      group = require_group(name);
    } catch (const UnknownNameError& e) {
      // In a configuration an unknown name is a fault of the request, as any other argument.
      throw ApiError(400, "unknown_name", e.what(), {{"path", "name"}, {"suggestions", e.suggestions()}});
    }
    const Json config = {{"name", name}, {"arguments", arguments}};
    try {
      // Whatever the type, a plugin's included: the allocation that would pass the bound is refused.
      const AllocationLimit limit(options.max_build_bytes, "the build of \"" + name + "\"");
      return build(group, config);
    } catch (const AllocationLimitError& e) {
      throw ApiError(400, "too_large",
                     std::string(e.what()) + ", this server's bound on a build (--max-build-mb)");
    }
  }

  static Response build(const RegistryGroup& group, const Json& config) {
    if (group.kind == "optimizer") {
      const auto& optimizers = static_cast<const Registry<torch::optim::Optimizer>&>(*group.registry);
      const auto optimizer = optimizers.create(config, std::vector<torch::Tensor>{});
      return answer({{"name", getname(optimizer)},
                     {"hash", gethash(optimizer)},
                     {"arguments", getarguments(optimizer)},
                     {"kind", group.kind}});
    }
    const auto& modules = static_cast<const Registry<torch::nn::Module>&>(*group.registry);
    const auto module = modules.create(config);
    return answer({{"name", getname(module)},
                   {"hash", gethash(module)},
                   {"arguments", getarguments(module)},
                   {"parameters", parameter_count(*module)},
                   {"kind", group.kind}});
  }

  // ---- checkpoints ----

  Response checkpoints(const Request& request) const {
    ListOptions page_options;
    page_options.offset = count_parameter(request, "offset", 0, std::numeric_limits<int>::max());
    page_options.limit = count_parameter(request, "limit", 100, options.max_page);
    page_options.skip_damaged = true;
    page_options.metadata_values = options.max_listing_values;
    CheckpointPage page;
    try {
      page = CheckpointStore(options.store).list(page_options);
    } catch (const CheckpointError& e) {
      throw ApiError(500, "store_unreadable", store_message(e, options.store));
    }
    Json checkpoints = Json::array();
    for (const CheckpointInfo& info : page.checkpoints) checkpoints.push_back(to_json(info));
    Json damaged = Json::array();
    for (const CheckpointError& error : page.damaged) damaged.push_back(store_message(error, options.store));
    return answer({{"checkpoints", std::move(checkpoints)},
                   {"total", page.total},
                   {"offset", page_options.offset},
                   {"limit", page_options.limit},
                   {"damaged", std::move(damaged)}});
  }

  /// The checkpoint's description, read from the file itself (which must hold the identity it is named by).
  CheckpointInfo inspect(const Request& request) const {
    const std::string& name = request.params.at("name");
    const std::string& hash = request.params.at("hash");
    return find_checkpoint(CheckpointStore(options.store), name, hash);
  }

  Response checkpoint(const Request& request) const { return answer(to_json(inspect(request))); }

  Response file(const Request& request) const {
    const CheckpointInfo info = inspect(request);
    // Saves are atomic renames, so size and time change with every save: a cheap, strong validator.
    const auto ticks = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::file_clock::to_sys(info.modified).time_since_epoch())
                           .count();
    const std::string etag =
        "\"" + info.hash + "-" + std::to_string(info.size) + "-" + std::to_string(ticks) + "\"";
    Response response;
    response.headers.emplace_back("ETag", etag);
    if (request.if_none_match == etag || request.if_none_match == "*") {
      response.status = 304;
      response.content_type = "application/octet-stream";
      return response;
    }
    response.content_type = "application/octet-stream";
    response.headers.emplace_back("Content-Disposition",
                                  "attachment; filename=\"" + info.path.filename().string() + "\"");
    response.file = info.path;
    return response;
  }

  // ---- inference ----

  Response model(const Request& request) {
    return answer(model_metadata(*models.get(request.params.at("name"), request.params.at("hash"))));
  }

  Response ready(const Request& request) {
    models.get(request.params.at("name"), request.params.at("hash"));
    return answer(
        {{"name", request.params.at("name")}, {"version", request.params.at("hash")}, {"ready", true}});
  }

  Response run(const Request& request) {
    // Malformed JSON costs no model load.
    Json body = parse_json(request.body);
    const auto model = models.get(request.params.at("name"), request.params.at("hash"));
    return answer(infer(*model, body));
  }
};

Api::Api(ApiOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Api::~Api() = default;

void Api::add_routes(Router& router) {
  Impl* impl = impl_.get();
  const auto add = [&router](std::string method, std::string pattern, Execution execution, auto member,
                             std::function<std::string(const Request&)> build_key = {}) {
    router.add({std::move(method), std::move(pattern), execution, Access::token,
                [member](const Request& request) { return guarded([&] { return member(request); }); },
                std::move(build_key)});
  };
  // A request for a model not loaded yet loads it: a build, on the build pool.
  const auto loads = [impl](const Request& r) {
    const std::string& name = r.params.at("name");
    const std::string& hash = r.params.at("hash");
    return impl->models.would_load(name, hash) ? name + "-" + hash : std::string();
  };
  add("GET", "/v1/registry/types", Execution::io, [impl](const Request&) { return impl->types(); });
  add("GET", "/v1/registry/types/{name}", Execution::io, [impl](const Request& r) { return impl->type(r); });
  add("POST", "/v1/identity", Execution::io, [](const Request& r) { return Impl::identity(r); });
  add("POST", "/v1/registry/build", Execution::build, [impl](const Request& r) { return impl->build(r); });
  add("GET", "/v1/checkpoints", Execution::worker, [impl](const Request& r) { return impl->checkpoints(r); });
  add("GET", "/v1/checkpoints/{name}-{hash}", Execution::worker,
      [impl](const Request& r) { return impl->checkpoint(r); });
  add("GET", "/v1/checkpoints/{name}-{hash}/file", Execution::worker,
      [impl](const Request& r) { return impl->file(r); });
  add(
      "GET", "/v2/models/{name}/versions/{hash}", Execution::worker,
      [impl](const Request& r) { return impl->model(r); }, loads);
  add(
      "GET", "/v2/models/{name}/versions/{hash}/ready", Execution::worker,
      [impl](const Request& r) { return impl->ready(r); }, loads);
  add(
      "POST", "/v2/models/{name}/versions/{hash}/infer", Execution::worker,
      [impl](const Request& r) { return impl->run(r); }, loads);
}

std::string Api::metrics() const {
  std::string text =
      "# HELP torchsystem_models_loaded Models kept loaded for inference.\n"
      "# TYPE torchsystem_models_loaded gauge\n"
      "torchsystem_models_loaded " +
      std::to_string(impl_->models.size()) +
      "\n"
      "# HELP torchsystem_model_loads_total Checkpoint loads for inference, by outcome "
      "(failed_cached: a recent failure answered again without reading the file).\n"
      "# TYPE torchsystem_model_loads_total counter\n";
  for (const auto& [outcome, count] : impl_->models.loads())
    text += "torchsystem_model_loads_total{outcome=\"" + outcome + "\"} " + std::to_string(count) + "\n";
  return text;
}

}  // namespace torchsystem::server
