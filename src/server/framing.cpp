// A request's framing, checked before its body is read (see framing.hpp).
#include "framing.hpp"

#include <boost/beast/http/field.hpp>

#include <vector>

namespace torchsystem::server {
namespace {

namespace http = boost::beast::http;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

/// The transfer codings of every Transfer-Encoding field, in order, lowercased; empty list elements
/// are skipped, as lists allow.
std::vector<std::string> codings(const http::request_header<>& header) {
  std::vector<std::string> result;
  for (auto field = header.find(http::field::transfer_encoding);
       field != header.end() && field->name() == http::field::transfer_encoding; ++field) {
    std::string_view list(field->value().data(), field->value().size());
    while (!list.empty()) {
      const auto comma = list.find(',');
      const std::string_view item = trim(list.substr(0, comma));
      // A coding's parameters (`;q=...`) belong to it: compared whole, they make it another coding.
      if (!item.empty()) result.push_back(lower(item));
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return result;
}

}  // namespace

std::optional<std::string> framing_fault(const http::request_header<>& header) {
  const bool has_encoding = header.find(http::field::transfer_encoding) != header.end();
  if (!has_encoding) return std::nullopt;
  if (header.find(http::field::content_length) != header.end())
    return "Transfer-Encoding and Content-Length together: the body's length is ambiguous";
  if (header.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
  const std::vector<std::string> list = codings(header);
  if (list.empty() || list.back() != "chunked")
    return "Transfer-Encoding must end in chunked, or the body's length is unknown";
  if (list.size() > 1)
    return "Transfer-Encoding other than chunked alone: this server decodes no other coding";
  return std::nullopt;
}

std::optional<std::string_view> origin_form(std::string_view target) {
  if (target.starts_with('/')) return target;
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (target.size() < scheme.size() || lower(target.substr(0, scheme.size())) != scheme) continue;
    const std::string_view rest = target.substr(scheme.size());
    const auto slash = rest.find_first_of("/?");
    if (slash == std::string_view::npos) return std::string_view("/");
    if (rest[slash] == '?') return std::nullopt;  // a query without a path
    return rest.substr(slash);
  }
  return std::nullopt;
}

}  // namespace torchsystem::server
