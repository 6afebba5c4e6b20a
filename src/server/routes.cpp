// The route table (see routes.hpp).
#include "routes.hpp"

#include <algorithm>

#include "torchsystem/json.hpp"

namespace torchsystem::server {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.starts_with('/')) path.remove_prefix(1);
  while (true) {
    const std::size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

/// Matches one decoded path segment against one template segment, adding its parameters.
bool match_segment(std::string_view pattern, const std::string& value,
                   std::map<std::string, std::string>& params) {
  if (!pattern.starts_with('{')) return pattern == value;
  if (value.empty()) return false;
  const std::size_t joint = pattern.find("}-{");
  if (joint == std::string_view::npos) {
    params[std::string(pattern.substr(1, pattern.size() - 2))] = value;
    return true;
  }
  const std::size_t dash = value.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == value.size()) return false;
  params[std::string(pattern.substr(1, joint - 1))] = value.substr(0, dash);
  params[std::string(pattern.substr(joint + 3, pattern.size() - joint - 4))] = value.substr(dash + 1);
  return true;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::optional<std::string> Request::query_value(std::string_view key) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::size_t equals = pair.find('=');
    if (pair.substr(0, equals) == key)
      return equals == std::string_view::npos ? std::string() : percent_decode(pair.substr(equals + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

Response json_error(unsigned status, std::string_view code, std::string_view message,
                    const std::vector<std::pair<std::string, std::string>>& extra) {
  Json body = {{"error", message}, {"code", code}};
  for (const auto& [key, value] : extra) body[key] = value;
  // Messages may quote a client's bytes, which need not be UTF-8: replace rather than throw.
  return json_response(body.dump(-1, ' ', false, Json::error_handler_t::replace), status);
}

Response json_response(std::string body, unsigned status) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

void Router::add(Route route) {
  const auto parts = split_path(route.pattern);
  segments_.emplace_back(parts.begin(), parts.end());
  routes_.push_back(std::move(route));
}

Match Router::match(std::string_view method, std::string_view path) const {
  Match found;
  const auto raw = split_path(path);
  std::vector<std::string> decoded;
  decoded.reserve(raw.size());
  for (const std::string_view segment : raw) {
    auto value = percent_decode(segment);
    if (!value) {
      found.bad_encoding = true;
      return found;
    }
    decoded.push_back(std::move(*value));
  }
  for (std::size_t index = 0; index < routes_.size(); ++index) {
    const Route& route = routes_[index];
    const auto& pattern = segments_[index];
    if (pattern.size() != decoded.size()) continue;
    std::map<std::string, std::string> params;
    bool matched = true;
    for (std::size_t i = 0; i < pattern.size() && matched; ++i)
      matched = match_segment(pattern[i], decoded[i], params);
    if (!matched) continue;
    if (route.method == method) {
      found.route = &route;
      found.params = std::move(params);
      return found;
    }
    if (std::find(found.allowed_methods.begin(), found.allowed_methods.end(), route.method) ==
        found.allowed_methods.end())
      found.allowed_methods.push_back(route.method);
  }
  return found;
}

}  // namespace torchsystem::server
