// What the API's units share: the error a handler throws to answer with a status, and the checkpoint
// lookup by identity, through the store, with its answers for a missing, foreign or damaged file.
// Internal to the server library.
#pragma once

#include <filesystem>
#include <string>

#include "torchsystem/checkpoint/store.hpp"
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

/// A store's error as a client may see it: the file as its key inside the store (`MLP-<hash>.pth`), or
/// `the store` for the directory itself, then the reason; never where the store lives on the server.
std::string store_message(const CheckpointError& error, const std::filesystem::path& store);

/// Refuses a name or hash that cannot name a checkpoint: 400 (invalid_key). A hash is 32 lowercase hex
/// digits; a name as CheckpointStore::identity_fault allows.
void check_key(const std::string& name, const std::string& hash);

/// The checkpoint of identity `name`-`hash` in `store`, every byte checked: 400 as check_key, 404 when
/// the store has none, 403 when its file is not a regular file of the store (a symbolic link, say), 500
/// when it is damaged or holds another identity.
CheckpointInfo find_checkpoint(const CheckpointStore& store, const std::string& name,
                               const std::string& hash);

/// The checkpoint of identity `name`-`hash`, read once in full for a model to be restored from it; the
/// same answers as find_checkpoint.
Checkpoint read_checkpoint(const CheckpointStore& store, const std::string& name, const std::string& hash);

}  // namespace torchsystem::server
