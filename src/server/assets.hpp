// The web page's files (web/), compiled into the program by cmake/embed_web.cmake, so the page needs
// neither a file system path nor a network: the machines it runs on may have neither.
#pragma once

#include <span>
#include <string_view>

namespace torchsystem::server {

struct Asset {
  std::string_view path;  ///< the URL path: /, /app.js, /openapi.json, ...
  std::string_view content_type;
  std::string_view body;
};

/// Every embedded file (defined in the generated web_assets.cpp).
std::span<const Asset> web_assets();

}  // namespace torchsystem::server
