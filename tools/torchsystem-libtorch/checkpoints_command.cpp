// `torchsystem checkpoints DIR [--json]`: the checkpoints of a store, described from the metadata inside
// each archive.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/training/checkpoint_store.hpp"

namespace torchsystem::cli {
namespace {

constexpr std::string_view checkpoints_usage = R"(usage: torchsystem checkpoints DIR [--json]

Lists the checkpoints of the store in DIR (files <name>-<hash>.pth, and .pt of the former format),
sorted by name then hash, one line each: the model's name and hash, the epochs completed, the size
in bytes, the time of the last save (UTC) and the model's arguments. Every archive is read and
checked (it describes itself: the .json files beside them are not read). A .pth file that PyTorch
saved in the reference's layout ({'epoch', 'nn', 'optimizer'}) shows its arguments as unknown.
Temporary files of a save in progress are skipped.

Options:
  --json       print a JSON array instead, one object per checkpoint: name, hash, epoch, arguments,
               criterion and optimizer ({"name", "hash", "arguments"}), history (the training
               job's per-epoch metrics: epoch, loss, accuracy, test_loss, test_accuracy, seconds,
               samples_per_second), size, modified (ISO 8601, UTC) and path
  -h, --help   print this help

Exit status: 0 on success; 1 when DIR does not exist or is not a directory, or when a checkpoint is
damaged (each is reported on standard error, after the good ones are printed); 2 when the command
line is wrong.

Example:
  $ torchsystem checkpoints data/weights
  NAME  HASH                              EPOCH     SIZE  MODIFIED              ARGUMENTS
  MLP   af51a51a38f7ad81f9523360fafe7068      3  2458571  2025-01-31T09:12:44Z  {"input_size": 784, ...}
)";

/// ISO 8601 in UTC, to the second: 2025-01-31T09:12:44Z.
std::string iso_utc(std::filesystem::file_time_type time) {
  const auto system = std::chrono::file_clock::to_sys(time);
  const std::time_t seconds =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(system));
  std::tm parts{};
  if (::gmtime_r(&seconds, &parts) == nullptr) return "?";
  char text[32];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return std::string(text, length);
}

/// A file torch.save wrote without the store's metadata names its identity but not its arguments.
std::string arguments_text(const Json& arguments) {
  return arguments.is_null() ? "unknown" : dumps(arguments);
}

std::string table(const std::vector<CheckpointInfo>& checkpoints) {
  const std::vector<std::string> header = {"NAME", "HASH", "EPOCH", "SIZE", "MODIFIED", "ARGUMENTS"};
  constexpr bool right_aligned[] = {false, false, true, true, false, false};
  std::vector<std::vector<std::string>> rows = {header};
  for (const CheckpointInfo& checkpoint : checkpoints) {
    rows.push_back({checkpoint.name, checkpoint.hash, std::to_string(checkpoint.epoch),
                    std::to_string(checkpoint.size), iso_utc(checkpoint.modified),
                    arguments_text(checkpoint.metadata["model"]["arguments"])});
  }
  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t column = 0; column < row.size(); ++column)
      widths[column] = std::max(widths[column], row[column].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t column = 0; column < row.size(); ++column) {
      const std::size_t padding = widths[column] - row[column].size();
      if (column + 1 == row.size()) {
        out += row[column];  // the last column is not padded
      } else if (right_aligned[column]) {
        out.append(padding, ' ').append(row[column]).append("  ");
      } else {
        out.append(row[column]).append(padding, ' ').append("  ");
      }
    }
    out += '\n';
  }
  return out;
}

Json as_json(const std::vector<CheckpointInfo>& checkpoints) {
  Json array = Json::array();
  for (const CheckpointInfo& checkpoint : checkpoints) {
    Json entry = Json::object();
    entry["name"] = checkpoint.name;
    entry["hash"] = checkpoint.hash;
    entry["epoch"] = checkpoint.epoch;
    entry["arguments"] = checkpoint.metadata["model"]["arguments"];
    entry["criterion"] = checkpoint.metadata["criterion"];
    entry["optimizer"] = checkpoint.metadata["optimizer"];
    // The training job's per-epoch metrics (docs/training.md); none for a file without the store's metadata.
    const Json& extra = checkpoint.metadata["extra"];
    entry["history"] = extra.is_object() && extra.contains("history") ? extra["history"] : Json::array();
    entry["size"] = checkpoint.size;
    entry["modified"] = iso_utc(checkpoint.modified);
    entry["path"] = checkpoint.path.string();
    array.push_back(std::move(entry));
  }
  return array;
}

}  // namespace

int checkpoints_command(std::span<const std::string_view> arguments) {
  bool json = false;
  bool options_done = false;
  std::vector<std::string_view> positional;
  for (const std::string_view argument : arguments) {
    if (!options_done && argument == "--") {
      options_done = true;
    } else if (!options_done && is_help_option(argument)) {
      write_all(stdout, checkpoints_usage);
      return exit_ok;
    } else if (!options_done && argument == "--json") {
      json = true;
    } else if (!options_done && argument.size() > 1 && argument.front() == '-') {
      throw UsageError("unknown option '" + std::string(argument) + "'");
    } else {
      positional.push_back(argument);
    }
  }
  if (positional.size() != 1) throw UsageError("checkpoints takes one DIR");
  if (positional.front().empty()) throw UsageError("DIR is empty");

  const std::filesystem::path directory{std::string(positional.front())};
  std::error_code error;
  if (!std::filesystem::exists(directory, error) && !error)
    throw CheckpointError(directory.string(), "no such directory");
  const CheckpointStore store(directory);
  std::vector<std::string> damaged;
  const auto checkpoints = store.list(true, &damaged);

  if (json) {
    write_all(stdout, dumps(as_json(checkpoints)) + "\n");
  } else if (checkpoints.empty() && damaged.empty()) {
    write_all(stdout, "no checkpoints in " + directory.string() + "\n");
  } else if (!checkpoints.empty()) {
    write_all(stdout, table(checkpoints));
  }
  if (damaged.empty()) return exit_ok;
  std::fflush(stdout);
  for (const std::string& message : damaged) write_all(stderr, "torchsystem checkpoints: " + message + "\n");
  return exit_bad_data;
}

}  // namespace torchsystem::cli
