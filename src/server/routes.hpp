// The route table of `torchsystem serve`: what a request and a response are to a handler, and how a
// request's method and path find their handler.
//
// Handlers are plain functions from Request to Response: they never see a socket, so the HTTP side
// (server.hpp) owns every limit and deadline, and the handlers (api.hpp) own the application. A route's
// path is a template such as /v1/checkpoints/{name}-{hash}; the server reports metrics by template, and
// the tests check the OpenAPI document against routes().
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torchsystem::server {

/// A request as handlers see it: decoded path parameters, the query, the body (whole, within the limit).
struct Request {
  std::string method;
  std::string path;   ///< the target's path, still percent-encoded
  std::string query;  ///< what follows '?', without it
  std::string body;
  std::string if_none_match;                  ///< the If-None-Match header, for conditional downloads
  std::map<std::string, std::string> params;  ///< the template's {parameters}, percent-decoded

  /// The value of `key` in the query (percent-decoded), if present.
  std::optional<std::string> query_value(std::string_view key) const;
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers, such as ETag
  /// When set, the body is this file, streamed from disk (the server opens it; the body string is unused).
  std::filesystem::path file;
};

/// {"error": message, "code": code} with `status`; `extra` members (such as "path") are added to it.
Response json_error(unsigned status, std::string_view code, std::string_view message,
                    const std::vector<std::pair<std::string, std::string>>& extra = {});
/// A 200 (or `status`) response with a JSON body already serialized.
Response json_response(std::string body, unsigned status = 200);

/// Where a handler runs: on the I/O thread (it must be quick and never block; a request whose body is over
/// 64 KiB runs on the workers all the same), on the worker pool behind its bounded queue (anything that
/// reads files or runs models), or on the build pool behind its own (anything that builds a model, whose
/// time and memory a request decides), so that builds never hold up inference on the models loaded.
enum class Execution { io, worker, build };
/// Whether a route needs the bearer token when the server has one: health checks and the web page's
/// static files do not (they hold no data); everything else does.
enum class Access { open, token };

using Handler = std::function<Response(const Request&)>;

struct Route {
  std::string method;
  std::string pattern;  ///< such as /v2/models/{name}/versions/{hash}/infer
  Execution execution = Execution::io;
  Access access = Access::token;
  Handler handler;
  /// For a worker route: what this request must build first (a model not loaded yet, by its key), or an
  /// empty string. A request with a key runs on the build pool instead: the first for a key counts
  /// against the build queue, those that come while it is pending wait behind it and count as jobs.
  /// Called on the I/O thread: it must be quick and never block.
  std::function<std::string(const Request&)> build_key = {};
};

/// What a request's method and path found.
struct Match {
  const Route* route = nullptr;  ///< null: no route has this path (404) or this method (405)
  std::map<std::string, std::string> params;
  std::vector<std::string> allowed_methods;  ///< when the path exists under other methods only
  bool bad_encoding = false;                 ///< a malformed percent escape in the path
};

class Router {
 public:
  /// Adds a route. A segment of `pattern` is a literal, `{name}`, or `{first}-{second}` (split at the
  /// last '-', since identities are `<name>-<md5 hex>` and names may hold '-').
  void add(Route route);
  Match match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> segments_;  // each route's pattern, split once
};

/// Decodes %XX escapes; nullopt for a malformed escape. '+' stays '+' (it is a space only in forms).
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace torchsystem::server
