// Fuzz target: the HTTP request parser's header (Boost.Beast's, as `torchsystem serve` reads requests) and
// the server's framing checks (src/server/framing.hpp). Any bytes go to the parser; a complete header
// goes to framing_fault and origin_form. What the checks let through must be framed unambiguously: no
// Transfer-Encoding and Content-Length together, a Transfer-Encoding only as `chunked` alone in HTTP/1.1,
// and a target that is a path. Nothing may throw out of the checks (std::terminate reports it).
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "framing.hpp"
#include "fuzz_support.hpp"

namespace torchsystem::fuzz {
namespace {

namespace http = boost::beast::http;

/// Every Transfer-Encoding field's value, joined by commas, lowercased, with no blanks: written apart
/// from the server's own reading of the list, so that the two check each other.
std::string joined_encodings(const http::request_header<>& header, std::size_t& fields) {
  std::string joined;
  for (const auto& field : header) {
    if (field.name() != http::field::transfer_encoding) continue;
    ++fields;
    joined += ',';
    for (const char c : field.value()) {
      if (c == ' ' || c == '\t') continue;
      joined += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  // Empty list elements do not count.
  std::string compact;
  for (std::size_t i = 0; i < joined.size(); ++i) {
    if (joined[i] == ',' && (compact.empty() || compact.back() == ',')) continue;
    compact += joined[i];
  }
  while (!compact.empty() && compact.back() == ',') compact.pop_back();
  return compact;
}

void check_accepted(const http::request_header<>& header) {
  std::size_t fields = 0;
  const std::string encodings = joined_encodings(header, fields);
  if (fields == 0) return;
  check(encodings == "chunked", "a Transfer-Encoding other than chunked alone was accepted");
  check(header.find(http::field::content_length) == header.end(),
        "Transfer-Encoding with Content-Length was accepted");
  check(header.version() >= 11, "Transfer-Encoding in HTTP/1.0 was accepted");
}

}  // namespace
}  // namespace torchsystem::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace torchsystem::fuzz;
  namespace http = boost::beast::http;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(16 * 1024);
  parser.eager(false);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!parser.is_header_done()) return 0;
  const auto& header = parser.get();
  const auto fault = torchsystem::server::framing_fault(header);
  const std::string_view target(header.target().data(), header.target().size());
  const auto path = torchsystem::server::origin_form(target);
  if (path) check(!path->empty() && path->front() == '/', "a target taken as a path that is not one");
  if (!fault) check_accepted(header);
  return 0;
}
