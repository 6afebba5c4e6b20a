// `torchsystem checkpoints DIR [--json] [--sort KEY] [--top N] [--where K=V]`: the checkpoints of a store,
// described from the metadata inside each archive, filtered and ordered by them; `checkpoints verify`
// reads every byte.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/identity.hpp"

namespace torchsystem::cli {
namespace {

constexpr std::string_view usage_text =
    R"(usage: torchsystem checkpoints DIR [--json] [--sort KEY[:asc]] [--top N] [--where KEY=VALUE]...
       torchsystem checkpoints verify DIR|FILE

Lists the checkpoints of the store in DIR (files <name>-<hash>.pth, and .pt of the former format),
sorted by name then hash, one line each: the model's name and hash, the epochs completed, the size
in bytes, the time of the last save (UTC) and the model's arguments. Each archive's zip directory and
metadata are read (it describes itself: the .json files beside them are not read), not its tensors,
so listing takes the same time whatever the checkpoints' size; `verify` reads everything. A .pth file
that PyTorch saved in the reference's layout ({'epoch', 'nn', 'optimizer'}) shows its arguments as
unknown. Temporary files of a save in progress are skipped; those of saves whose process is gone are
removed, each reported on standard error.

`verify` reads every record of every checkpoint in DIR (or of FILE) and checks its CRC-32, as a load
does, printing `ok PATH` for each good one and reporting each damaged one on standard error.

Options:
  --json          print a JSON array instead, one object per checkpoint: name, hash, epoch, arguments,
                  criterion and optimizer ({"name", "hash", "arguments"}), history (the training
                  job's per-epoch metrics: epoch, loss, accuracy, test_loss, test_accuracy, seconds,
                  samples_per_second), size, modified (ISO 8601, UTC) and path
  --sort KEY      highest first (KEY:asc, lowest first); checkpoints without KEY come last
  --top N         only the first N (after --sort)
  --where K=V     only checkpoints whose K is V (a string, or a number compared as a number); may be
                  repeated, all must hold
  -h, --help      print this help

KEY is name, hash, epoch, size, modified, criterion or optimizer (their names), arguments.NAME (a
model argument), or a metric of the last epoch: loss, accuracy, test_loss, test_accuracy, seconds,
samples_per_second.

Exit status: 0 on success; 1 when DIR does not exist or is not a directory, or when a checkpoint is
damaged (each is reported on standard error, after the good ones are printed); 2 when the command
line is wrong.

Examples:
  $ torchsystem checkpoints data/weights
  NAME  HASH                              EPOCH     SIZE  MODIFIED              ARGUMENTS
  MLP   af51a51a38f7ad81f9523360fafe7068      3  2458571  2025-01-31T09:12:44Z  {"input_size": 784, ...}
  $ torchsystem checkpoints data/weights --where name=MLP --sort test_accuracy --top 5
  $ torchsystem checkpoints verify data/weights
)";

constexpr std::string_view metric_keys[] = {"loss",          "accuracy", "test_loss",
                                            "test_accuracy", "seconds",  "samples_per_second"};
constexpr std::string_view plain_keys[] = {"name",     "hash",      "epoch",    "size",
                                           "modified", "criterion", "optimizer"};

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
    Json entry = to_json(checkpoint);
    entry["path"] = checkpoint.path.string();
    array.push_back(std::move(entry));
  }
  return array;
}

bool is_known_key(std::string_view key) {
  return std::find(std::begin(plain_keys), std::end(plain_keys), key) != std::end(plain_keys) ||
         std::find(std::begin(metric_keys), std::end(metric_keys), key) != std::end(metric_keys) ||
         (key.starts_with("arguments.") && key.size() > 10);
}

std::string check_key(std::string_view key) {
  if (!is_known_key(key)) {
    throw UsageError("unknown key '" + std::string(key) +
                     "' (keys: name, hash, epoch, size, modified, criterion, optimizer, arguments.NAME, "
                     "loss, accuracy, test_loss, test_accuracy, seconds, samples_per_second)");
  }
  return std::string(key);
}

/// A checkpoint's value under `key`, from its metadata; null when it has none.
Json field(const CheckpointInfo& checkpoint, std::string_view key) {
  const Json& metadata = checkpoint.metadata;
  if (key == "name") return checkpoint.name;
  if (key == "hash") return checkpoint.hash;
  if (key == "epoch") return checkpoint.epoch;
  if (key == "size") return checkpoint.size;
  if (key == "modified") return iso_utc(checkpoint.modified);
  if (key == "criterion" || key == "optimizer") {
    const Json& member = metadata[std::string(key)];
    return member.is_object() ? member["name"] : Json();
  }
  if (key.starts_with("arguments.")) {
    const Json& arguments = metadata["model"]["arguments"];
    const auto found = arguments.is_object() ? arguments.find(std::string(key.substr(10))) : arguments.end();
    return arguments.is_object() && found != arguments.end() ? *found : Json();
  }
  // A metric: the last epoch's, as the checkpoint holds the model after it.
  const Json& extra = metadata["extra"];
  if (!extra.is_object() || !extra.contains("history") || !extra["history"].is_array() ||
      extra["history"].empty())
    return Json();
  const Json& last = extra["history"].back();
  return last.is_object() && last.contains(std::string(key)) ? last[std::string(key)] : Json();
}

struct Condition {
  std::string key;
  std::string value;
};

bool matches(const Json& value, const std::string& wanted) {
  if (value.is_string()) return value.get_ref<const std::string&>() == wanted;
  if (value.is_number()) {
    char* end = nullptr;
    const double number = std::strtod(wanted.c_str(), &end);
    return !wanted.empty() && end == wanted.c_str() + wanted.size() && number == value.get<double>();
  }
  return !value.is_null() && dumps(value) == wanted;
}

/// Orders two values of one key: numbers as numbers, anything else as its JSON text.
bool less_value(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() < b.get<double>();
  if (a.is_string() && b.is_string())
    return a.get_ref<const std::string&>() < b.get_ref<const std::string&>();
  return dumps(a) < dumps(b);
}

struct Query {
  std::vector<Condition> conditions;
  std::string sort_key;  ///< empty: the store's order, by name then hash
  bool ascending = false;
  std::size_t top = 0;  ///< 0: all
};

std::vector<CheckpointInfo> answer(std::vector<CheckpointInfo> checkpoints, const Query& query) {
  std::erase_if(checkpoints, [&](const CheckpointInfo& checkpoint) {
    return !std::all_of(query.conditions.begin(), query.conditions.end(), [&](const Condition& condition) {
      return matches(field(checkpoint, condition.key), condition.value);
    });
  });
  if (!query.sort_key.empty()) {
    std::stable_sort(checkpoints.begin(), checkpoints.end(),
                     [&](const CheckpointInfo& a, const CheckpointInfo& b) {
                       const Json x = field(a, query.sort_key), y = field(b, query.sort_key);
                       if (x.is_null() || y.is_null())
                         return !x.is_null() && y.is_null();  // without the key: last
                       return query.ascending ? less_value(x, y) : less_value(y, x);
                     });
  }
  if (query.top > 0 && checkpoints.size() > query.top) checkpoints.resize(query.top);
  return checkpoints;
}

/// `checkpoints verify DIR|FILE`: every record of every checkpoint read and checked.
int verify(const std::filesystem::path& target) {
  std::error_code error;
  if (!std::filesystem::exists(target, error) && !error)
    throw CheckpointError(target.string(), "no such file or directory");
  std::vector<CheckpointInfo> good;
  std::vector<std::string> damaged;
  if (std::filesystem::is_directory(target, error)) {
    good = CheckpointStore(target).list(true, &damaged, CheckpointCheck::full);
  } else {
    try {
      good.push_back(CheckpointStore::inspect(target, CheckpointCheck::full));
    } catch (const CheckpointError& e) {
      damaged.push_back(e.what());
    }
  }
  std::string out;
  for (const CheckpointInfo& checkpoint : good) out += "ok " + checkpoint.path.string() + "\n";
  out += std::to_string(good.size() + damaged.size()) + " checked, " + std::to_string(damaged.size()) +
         " damaged\n";
  write_all(stdout, out);
  std::fflush(stdout);
  for (const std::string& message : damaged)
    write_all(stderr, "torchsystem checkpoints verify: " + message + "\n");
  return damaged.empty() ? exit_ok : exit_bad_data;
}

}  // namespace

int checkpoints_command(std::span<const std::string_view> arguments) {
  bool json = false;
  bool options_done = false;
  Query query;
  std::vector<std::string_view> positional;
  for (std::size_t index = 0; index < arguments.size(); ++index) {
    const std::string_view argument = arguments[index];
    const auto value = [&]() -> std::string_view {
      if (index + 1 == arguments.size()) throw UsageError(std::string(argument) + " needs a value");
      return arguments[++index];
    };
    if (!options_done && argument == "--") {
      options_done = true;
    } else if (!options_done && argument == "--json") {
      json = true;
    } else if (!options_done && argument == "--sort") {
      std::string_view key = value();
      query.ascending = key.ends_with(":asc");
      if (query.ascending) key.remove_suffix(4);
      query.sort_key = check_key(key);
    } else if (!options_done && argument == "--top") {
      query.top = count_option("--top", value(), 1);
    } else if (!options_done && argument == "--where") {
      const std::string_view condition = value();
      const auto equals = condition.find('=');
      if (equals == std::string_view::npos)
        throw UsageError("--where expects KEY=VALUE, got '" + std::string(condition) + "'");
      query.conditions.push_back(
          {check_key(condition.substr(0, equals)), std::string(condition.substr(equals + 1))});
    } else if (!options_done && argument.size() > 1 && argument.front() == '-') {
      throw UsageError("unknown option '" + std::string(argument) + "'");
    } else {
      positional.push_back(argument);
    }
  }
  if (!positional.empty() && positional.front() == "verify") {
    if (positional.size() != 2 || positional[1].empty())
      throw UsageError("checkpoints verify takes one DIR or FILE");
    return verify(std::filesystem::path(std::string(positional[1])));
  }
  if (positional.size() != 1) throw UsageError("checkpoints takes one DIR");
  if (positional.front().empty()) throw UsageError("DIR is empty");

  const std::filesystem::path directory{std::string(positional.front())};
  std::error_code error;
  if (!std::filesystem::exists(directory, error) && !error)
    throw CheckpointError(directory.string(), "no such directory");
  const CheckpointStore store(directory);
  std::vector<std::string> damaged;
  const auto checkpoints = answer(store.list(true, &damaged), query);
  // After the listing, which fails first on a path that is not a directory.
  for (const auto& removed : store.clean_temporaries()) {
    write_all(stderr, "torchsystem checkpoints: removed " + removed.string() +
                          ", a temporary file of a save whose process is gone\n");
  }

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

std::string_view checkpoints_usage() {
  return usage_text;
}

}  // namespace torchsystem::cli
