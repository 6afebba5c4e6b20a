// A checkpoint's description as JSON (see checkpoint_info.hpp).
#include "torchsystem/checkpoint/checkpoint_info.hpp"

#include <chrono>
#include <ctime>

namespace torchsystem {

std::string iso_utc(std::filesystem::file_time_type time) {
  const auto system = std::chrono::file_clock::to_sys(time);
  const std::time_t seconds =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(system));
  std::tm parts{};
  if (::gmtime_r(&seconds, &parts) == nullptr) return "?";
  char text[32];
  return std::string(text, std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts));
}

Json to_json(const CheckpointInfo& checkpoint) {
  const Json& metadata = checkpoint.metadata;
  const auto member = [&](const char* key) { return metadata.contains(key) ? metadata[key] : Json(); };
  const Json extra = member("extra");
  const Json model = member("model");
  return {{"name", checkpoint.name},
          {"hash", checkpoint.hash},
          {"epoch", checkpoint.epoch},
          {"arguments", model.is_object() && model.contains("arguments") ? model["arguments"] : Json()},
          {"criterion", member("criterion")},
          {"optimizer", member("optimizer")},
          // The training job's per-epoch records; none for a file without the store's metadata.
          {"history", extra.is_object() && extra.contains("history") ? extra["history"] : Json::array()},
          {"size", checkpoint.size},
          {"modified", iso_utc(checkpoint.modified)}};
}

}  // namespace torchsystem
