// The checkpoint fuzz targets: arbitrary bytes as a checkpoint file in a store.
//
// Every outcome of CheckpointStore::inspect, list and load must be success or a CheckpointError naming
// the file (an exception of another type escaping is a defect: std::terminate reports it), and a load
// must leave the file as it was. The aggregate is a small seed MLP with CrossEntropyLoss and Adam, built
// afresh for each input so that a run does not depend on the inputs before it.
#include "checkpoint_harness.hpp"

#include <stdlib.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/loss.h>
#include <torch/optim/adam.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fuzz_support.hpp"
#include "seed_models.hpp"
#include "torchsystem/checkpoint/store.hpp"
#include "torchsystem/torch.hpp"
#include "zip_crc.hpp"

namespace torchsystem::fuzz {
namespace {

namespace fs = std::filesystem;
using namespace torchsystem::literals;

struct Trainee {
  seed::MLP model{nullptr};
  torch::nn::CrossEntropyLoss criterion{nullptr};
  std::shared_ptr<torch::optim::Adam> optimizer;

  torchsystem::Aggregate members(std::int64_t epoch = 0) const {
    return {model.ptr(), criterion.ptr(), optimizer, epoch};
  }
};

/// The aggregate every input is loaded into; `hidden` changes its identity.
Trainee make_aggregate(std::int64_t hidden = 3) {
  static const bool registered = [] {
    static Registry<torch::nn::Module> registry("checkpoint fuzz models");
    seed::register_seed_models(registry);
    return true;
  }();
  (void)registered;
  Trainee aggregate;
  aggregate.model =
      create<seed::MLP>(2, hidden, 2, "dropout"_a = 0.0, "activation"_a = create<torch::nn::ReLU>());
  aggregate.criterion = create<torch::nn::CrossEntropyLoss>();
  aggregate.optimizer = create<torch::optim::Adam>(aggregate.model->parameters(), "lr"_a = 0.01);
  return aggregate;
}

/// A temporary store directory for the whole run, removed at exit.
class Store {
 public:
  Store() {
    std::string pattern = (fs::temp_directory_path() / "torchsystem-fuzz-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) fail("mkdtemp failed");
    directory_ = pattern;
  }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store() {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }
  const fs::path& directory() const { return directory_; }

 private:
  fs::path directory_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(missing)";
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  check(static_cast<bool>(out), "cannot write " + path.string());
}

/// TORCHSYSTEM_FUZZ_VERBOSE=1 prints every outcome: what a crash or corpus input does, at a glance.
bool verbose() {
  static const bool on = [] {
    const char* value = std::getenv("TORCHSYSTEM_FUZZ_VERBOSE");
    return value != nullptr && *value != '\0' && std::string_view(value) != "0";
  }();
  return on;
}

void report(std::string_view action, std::string_view outcome) {
  if (verbose())
    std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(action.size()), action.data(),
                 static_cast<int>(outcome.size()), outcome.data());
}

/// A refusal must name the file it is about.
void check_refusal(const CheckpointError& error, const fs::path& file, std::string_view action) {
  const std::string what = error.what();
  report(action, what);
  check(error.path() == file.string() && what.find(file.string()) != std::string::npos,
        std::string(action) + ": the CheckpointError does not name the file: " + what);
  // A reason must follow the file name and the kind of failure.
  check(!what.ends_with(": ") && !what.ends_with(":"),
        std::string(action) + ": the CheckpointError gives no reason: " + what);
}

}  // namespace

namespace {

/// The checks of one input written at `path`.
void fuzz_checkpoint_at(const CheckpointStore& store, const Trainee& aggregate, const fs::path& path,
                        const std::string& bytes) {
  write_file(path, bytes);
  // The metadata-only reading (what list() does) checks a subset of what the full one checks: when the
  // full one accepts a file, it must too, and describe it alike.
  std::optional<CheckpointInfo> full;
  try {
    full = CheckpointStore::inspect(path);
    check(full->path == path && full->size == bytes.size(), "inspect describes another file");
    report("inspect", "epoch " + std::to_string(full->epoch));
  } catch (const CheckpointError& e) {
    check_refusal(e, path, "inspect");
  }
  try {
    const CheckpointInfo info = CheckpointStore::inspect(path, CheckpointCheck::metadata);
    check(!full || (info.name == full->name && info.hash == full->hash && info.epoch == full->epoch &&
                    dumps(info.metadata) == dumps(full->metadata)),
          "the metadata-only inspect describes the file otherwise than the full one");
  } catch (const CheckpointError& e) {
    check(!full.has_value(),
          std::string("the metadata-only inspect refuses what the full one accepts: ") + e.what());
    check_refusal(e, path, "inspect (metadata)");
  }
  try {
    store.list();
  } catch (const CheckpointError& e) {
    check_refusal(e, path, "list");
  }
  std::vector<std::string> damaged;
  const auto listed = store.list(true, &damaged);
  check(listed.size() + damaged.size() == 1, "list(skip_damaged) neither lists nor reports the file");
  try {
    const auto loaded = store.load(aggregate.members());
    check(loaded.has_value(), "load finds no checkpoint where one was written");
    report("load", "loaded epoch " + std::to_string(loaded->epoch));
  } catch (const CheckpointError& e) {
    check_refusal(e, path, "load");
  }
  check(read_file(path) == bytes, "the checkpoint file changed during inspect, list or load");
  fs::remove(path);
}

}  // namespace

void fuzz_checkpoint(const std::uint8_t* data, std::size_t size, bool recompute_crcs) {
  static const Store store_directory;
  const CheckpointStore store(store_directory.directory());
  const Trainee aggregate = make_aggregate();
  const fs::path path = store.path_for(getname(aggregate.model.ptr()), gethash(aggregate.model.ptr()));
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const std::string bytes = recompute_crcs ? with_recomputed_crcs(raw) : std::string(raw);
  // The same bytes as the store's `.pth` (torch.save's format) and as a `.pt` of the former format,
  // which the store still reads: both readers see every input.
  fuzz_checkpoint_at(store, aggregate, path, bytes);
  fs::path legacy = path;
  legacy.replace_extension(".pt");
  fuzz_checkpoint_at(store, aggregate, legacy, bytes);
}

void write_checkpoint_seeds(const fs::path& directory) {
  fs::create_directories(directory);
  const Store scratch;
  const CheckpointStore store(scratch.directory());
  const auto save_as = [&](const Trainee& aggregate, std::int64_t epoch, const Json& extra,
                           const std::string& file) {
    const CheckpointInfo info = store.save(aggregate.members(epoch), extra);
    fs::copy_file(info.path, directory / file, fs::copy_options::overwrite_existing);
  };
  torch::manual_seed(5);
  Trainee fresh = make_aggregate();
  save_as(fresh, 0, Json::object(), "fresh.pth");

  // With optimizer state: a few Adam steps on a fixed batch.
  Trainee trained = make_aggregate();
  const auto input = torch::randn({4, 2});
  const auto target = torch::randint(0, 2, {4});
  for (int step = 0; step < 2; ++step) {
    trained.optimizer->zero_grad();
    trained.criterion(trained.model(input), target).backward();
    trained.optimizer->step();
  }
  save_as(trained, 2, Json{{"history", {0.75, 0.5}}}, "trained.pth");

  // Another model's checkpoint under this one's file name: a copied or renamed file.
  save_as(make_aggregate(4), 1, Json::object(), "other-identity.pth");
}

void write_seeds_if_asked() {
  const char* directory = std::getenv("TORCHSYSTEM_FUZZ_WRITE_SEEDS");
  if (directory == nullptr || *directory == '\0') return;
  write_checkpoint_seeds(directory);
  std::printf("checkpoint seeds written to %s\n", directory);
  std::exit(0);
}

}  // namespace torchsystem::fuzz
