// A bound on what one thread allocates through LibTorch's CPU allocator while a scope is open. A build or a
// load whose size a request or a file decides (a layer of 30000 x 30000 weights asked for by a client, a
// checkpoint's metadata claiming `hidden_size: 300000`, storages a crafted archive announces) is refused at
// the allocation that would pass the bound, before it happens, by an AllocationLimitError: the process
// neither swaps nor meets the OOM killer, whatever the module type, a plugin's included.
//
//   {
//     AllocationLimit limit(std::size_t{1} << 30, "the build of \"MultiheadAttention\"");
//     auto module = registry.create(config);   // AllocationLimitError past 1 GiB, nothing kept
//   }
//
// Every allocation of the scope's thread counts, freed or not, so `used()` bounds from above what the scope
// holds at once. Scopes nest: an allocation counts against every open scope of the thread. Other threads,
// LibTorch's intra-op workers included, are not counted (building and loading allocate on the caller's).
// The bounding allocator wraps LibTorch's own and is installed once, when this library is loaded.
#pragma once

#include <cstddef>
#include <string>

namespace torchsystem {

class AllocationLimit {
 public:
  /// Opens a scope on this thread that may allocate `bytes` in all; `scope` names it in the error.
  AllocationLimit(std::size_t bytes, std::string scope);
  ~AllocationLimit();
  AllocationLimit(const AllocationLimit&) = delete;
  AllocationLimit& operator=(const AllocationLimit&) = delete;

  /// Bytes allocated in the scope so far.
  std::size_t used() const noexcept { return used_; }
  std::size_t limit() const noexcept { return limit_; }

 private:
  friend class AllocationLimitAccount;
  std::size_t limit_;
  std::size_t used_ = 0;
  std::string scope_;
  AllocationLimit* outer_;
};

}  // namespace torchsystem
