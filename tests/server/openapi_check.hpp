// Checks an answer the tests got against the server's OpenAPI document: the operation of its method and
// path must document its status (or a "default"), its content type, and a JSON body must fit the schema.
// The schema check covers the subset the document uses: type, nullable, required, properties,
// additionalProperties, items, enum and $ref.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "torchsystem/json.hpp"

namespace openapi_check {

using torchsystem::Json;

inline std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> parts;
  path.remove_prefix(path.starts_with('/') ? 1 : 0);
  while (true) {
    const std::size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return parts;
    path.remove_prefix(slash + 1);
  }
}

/// Whether a request path (without its query) fits a document path such as /v1/checkpoints/{name}-{hash}.
inline bool path_matches(std::string_view pattern, std::string_view path) {
  const auto want = segments(pattern);
  const auto have = segments(path);
  if (want.size() != have.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!want[i].starts_with('{')) {
      if (want[i] != have[i]) return false;
    } else if (have[i].empty() || (want[i].find("}-{") != std::string_view::npos &&
                                   have[i].find('-') == std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

inline const Json& resolve(const Json& document, const Json& schema) {
  if (!schema.contains("$ref")) return schema;
  const std::string reference = schema["$ref"].get<std::string>();  // #/components/schemas/Name
  return document["components"]["schemas"][reference.substr(reference.rfind('/') + 1)];
}

/// "" when `value` fits `schema`; otherwise where and why not.
inline std::string mismatch(const Json& document, const Json& given_schema, const Json& value,
                            const std::string& at) {
  const Json& schema = resolve(document, given_schema);
  if (value.is_null())
    return schema.value("nullable", false) || !schema.contains("type") ? "" : at + ": null";
  if (schema.contains("enum")) {
    bool listed = false;
    for (const Json& item : schema["enum"]) listed = listed || item == value;
    if (!listed) return at + ": " + value.dump() + " is not in the enum";
  }
  const std::string type = schema.value("type", "");
  const bool fits = type.empty() || (type == "object" && value.is_object()) ||
                    (type == "array" && value.is_array()) || (type == "string" && value.is_string()) ||
                    (type == "integer" && value.is_number_integer()) ||
                    (type == "number" && value.is_number()) || (type == "boolean" && value.is_boolean());
  if (!fits) return at + ": expected " + type + ", got " + value.dump().substr(0, 80);
  if (value.is_object()) {
    for (const Json& key : schema.value("required", Json::array())) {
      if (!value.contains(key.get<std::string>()))
        return at + ": no required \"" + key.get<std::string>() + "\"";
    }
    for (const auto& [key, item] : value.items()) {
      if (schema.contains("properties") && schema["properties"].contains(key)) {
        if (auto error = mismatch(document, schema["properties"][key], item, at + "." + key); !error.empty())
          return error;
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
        if (auto error = mismatch(document, schema["additionalProperties"], item, at + "." + key);
            !error.empty())
          return error;
      }
    }
  }
  if (value.is_array() && schema.contains("items")) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (auto error = mismatch(document, schema["items"], value[i], at + "[" + std::to_string(i) + "]");
          !error.empty())
        return error;
    }
  }
  return "";
}

/// "" when the answer is documented, or when the document has no operation for it (a path the server
/// does not have: nothing to check); otherwise what does not fit.
inline std::string check(const Json& document, std::string method, std::string_view target, unsigned status,
                         std::string_view content_type, const std::string& body) {
  for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string_view path = target.substr(0, target.find('?'));
  for (const auto& [pattern, operations] : document["paths"].items()) {
    if (!path_matches(pattern, path) || !operations.contains(method)) continue;
    const Json& responses = operations[method]["responses"];
    const std::string code = std::to_string(status);
    const Json& response = responses.contains(code) ? responses[code] : responses.value("default", Json());
    const std::string where = method + " " + pattern + " " + code;
    if (response.is_null()) return where + ": status not documented";
    if (!response.contains("content")) return body.empty() ? "" : where + ": a body where none is documented";
    const std::string media(content_type.substr(0, content_type.find(';')));
    if (!response["content"].contains(media)) return where + ": content type " + media + " not documented";
    if (media != "application/json") return "";
    Json parsed;
    try {
      parsed = Json::parse(body);
    } catch (const std::exception&) {
      return where + ": not JSON";
    }
    return mismatch(document, response["content"][media]["schema"], parsed, where + " body");
  }
  return "";
}

}  // namespace openapi_check
