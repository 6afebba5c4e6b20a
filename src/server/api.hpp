// The routes of `torchsystem serve` that reach the project: the registry (types, signatures, identities,
// builds), the checkpoint store (listing, describing, downloading) and inference on stored checkpoints
// through the Open Inference Protocol v2. Register them in a Router (routes.hpp) that a Server serves.
//
//   Api api({.store = "data/weights", .registries = Registries(program_models())});
//   Router router;
//   api.add_routes(router);
//
// Nothing a client sends names a file or a URL: checkpoints are named by identity (`<name>-<hash>`,
// validated, resolved inside the store only), and a model is rebuilt from its checkpoint's own metadata
// through the registry, then kept loaded (at most `max_models`, least recently used first out).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "inference.hpp"
#include "routes.hpp"
#include "torchsystem/torch/registries.hpp"

namespace torchsystem::server {

struct ApiOptions {
  std::filesystem::path store;  ///< the checkpoint store's directory
  /// What the registry routes know and checkpoints' aggregates are rebuilt through.
  Registries registries;
  std::size_t max_models = 4;  ///< models kept loaded for inference
  /// What /v1/registry/build may allocate (AllocationLimit): the allocation that would pass it is refused
  /// before it happens, whatever the type, so a request cannot make the server allocate more.
  std::size_t max_build_bytes = std::size_t{1} << 30;
  /// What loading a checkpoint may allocate at most, and how long a failed load is remembered.
  LoadLimits load_limits = {};
  std::size_t max_page = 1000;  ///< the largest `limit` of /v1/checkpoints
  /// The JSON values one page of /v1/checkpoints may hold (ListOptions::metadata_values): about 100 MB.
  std::size_t max_listing_values = 1'000'000;
};

class Api {
 public:
  explicit Api(ApiOptions options);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  /// Adds every route of the API to `router`; the Api must outlive the server that serves them.
  void add_routes(Router& router);
  /// Prometheus lines for /metrics: the models loaded.
  std::string metrics() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torchsystem::server
