// One checkpoint as the store describes it, and its JSON form: what `torchsystem checkpoints --json` prints
// and the server's `/v1/checkpoints` answers, from the metadata alone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "torchsystem/json.hpp"

namespace torchsystem {

struct CheckpointInfo {
  std::string name;         ///< the model's name
  std::string hash;         ///< the model's hash
  std::int64_t epoch = 0;   ///< the number of epochs completed when it was saved
  Json metadata;            ///< {"format", "model", "criterion", "optimizer", "epoch", "extra"}
  std::uintmax_t size = 0;  ///< the archive's size in bytes
  std::filesystem::file_time_type modified;  ///< the archive's last write time
  std::filesystem::path path;                ///< the archive
};

/// {"name", "hash", "epoch", "arguments", "criterion", "optimizer", "history", "size", "modified"}: the
/// model's arguments, the criterion's and optimizer's identities (null for a file torch.save wrote
/// without the store's metadata), the training job's per-epoch records (empty when it has none), and the
/// time in ISO 8601. The file's path is not in it: where the store lives is its owner's business.
Json to_json(const CheckpointInfo& checkpoint);

/// ISO 8601 in UTC, to the second: `2025-01-31T09:12:44Z`.
std::string iso_utc(std::filesystem::file_time_type time);

}  // namespace torchsystem
