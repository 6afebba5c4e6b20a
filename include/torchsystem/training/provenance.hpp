// What a run trained on, recorded with every epoch of its history: the data's kind, its files with their
// sizes and SHA-256, the samples of each split, and one digest over all of it. Two runs of one identity
// compare digests: a run that resumes a checkpoint on other data says so (and each epoch's record says
// which data it saw).
//
//   {"name": "npz", "files": [{"path": "/data/fashion.npz", "bytes": 219521962, "sha256": "9c1e..."}],
//    "train_samples": 60000, "test_samples": 10000, "sha256": "41d0..."}
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "torchsystem/json.hpp"

namespace torchsystem {

struct DataProvenance {
  struct File {
    std::string path;
    std::uint64_t bytes = 0;
    std::string sha256;  ///< of the file's bytes, lowercase hex
  };
  std::string name;  ///< the data's kind: "npz", "csv", "FashionMNIST", "synthetic", ...
  std::vector<File> files;
  std::int64_t train_samples = 0;
  std::int64_t test_samples = 0;
  /// SHA-256 over the kind, each file's digest and size, and `parameters`: equal digests, equal data.
  std::string digest;
  /// What shapes the data besides the files' bytes (the synthetic task's options and seed); may be null.
  Json parameters;

  /// Reads `files` (DataError naming one that cannot be read) and computes every digest.
  static DataProvenance of(std::string name, const std::vector<std::filesystem::path>& files,
                           std::int64_t train_samples, std::int64_t test_samples, Json parameters = {});

  /// "npz /data/fashion.npz (60000 training and 10000 test samples, sha256 41d0c3a1b2e4)".
  std::string summary() const;
  Json to_json() const;
  /// The provenance a history entry recorded; nullopt when the entry has none or a malformed one (earlier
  /// checkpoints, other programs).
  static std::optional<DataProvenance> from_json(const Json& json);
};

}  // namespace torchsystem
