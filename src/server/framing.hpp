// How a request's message body is delimited, checked as RFC 9112 section 6 says before a byte of the body
// is read: a request whose length the server could read otherwise than its client meant (request
// smuggling) is refused with 400, and its connection closed. Internal to the server library.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace torchsystem::server {

/// Why the request's framing cannot be trusted, or nullopt when it can: a Transfer-Encoding whose final
/// coding is not `chunked`, `chunked` applied twice, a coding this server does not decode, a
/// Transfer-Encoding beside a Content-Length, or one in an HTTP/1.0 request.
std::optional<std::string> framing_fault(const boost::beast::http::request_header<>& header);

/// The path and query of a request target: origin-form (`/path?query`) as it is, absolute-form
/// (`http://host/path`) without its scheme and authority; nullopt for any other form (`path` without its
/// slash, authority-form, `*`), which this server does not serve.
std::optional<std::string_view> origin_form(std::string_view target);

}  // namespace torchsystem::server
