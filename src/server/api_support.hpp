// What the API's units share: the error a handler throws to answer with a status, and the checkpoint
// lookup by identity that never leaves the store. Internal to the server library.
#pragma once

#include <filesystem>
#include <string>

#include "torchsystem/error.hpp"
#include "torchsystem/json.hpp"

namespace torchsystem::server {

/// An answer other than 200, thrown by a handler: `status`, and the body's "code" and "error"
/// (what()); `extra` members (such as "path" or "suggestions") join the body.
class ApiError : public Error {
 public:
  ApiError(unsigned status, std::string code, const std::string& message, Json extra = Json::object())
      : Error(message), status_(status), code_(std::move(code)), extra_(std::move(extra)) {}
  unsigned status() const noexcept { return status_; }
  const std::string& code() const noexcept { return code_; }
  const Json& extra() const noexcept { return extra_; }

 private:
  unsigned status_;
  std::string code_;
  Json extra_;
};

/// The archive of identity `name`-`hash` in `store`: 400 (invalid_key) for a name or hash that cannot
/// be one (a hash is 32 lowercase hex digits; names as CheckpointStore::path_for allows), 404 when the
/// store has none, 403 when the file is not a regular file inside the store (a symbolic link, say).
/// The `.pth` when there is one, else a `.pt` of the former format.
std::filesystem::path resolve_checkpoint(const std::filesystem::path& store, const std::string& name,
                                         const std::string& hash);

}  // namespace torchsystem::server
