#include "torchsystem/torch/allocation_limit.hpp"

#include <c10/core/CPUAllocator.h>

#include <utility>

#include "torchsystem/error.hpp"

namespace torchsystem {
namespace {

thread_local AllocationLimit* innermost = nullptr;

std::string size_text(std::size_t bytes) {
  constexpr std::size_t mib = std::size_t{1} << 20;
  if (bytes >= mib) return std::to_string(bytes / mib) + " MiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

/// Counts an allocation against the thread's open scopes, or refuses it. A friend of AllocationLimit.
class AllocationLimitAccount {
 public:
  static void charge(std::size_t bytes) {
    for (AllocationLimit* scope = innermost; scope != nullptr; scope = scope->outer_) {
      if (bytes > scope->limit_ - scope->used_) {
        throw AllocationLimitError(scope->scope_ + " would allocate more than its bound of " +
                                   size_text(scope->limit_) + " (" + size_text(scope->used_) +
                                   " allocated, " + size_text(bytes) + " more asked for)");
      }
    }
    for (AllocationLimit* scope = innermost; scope != nullptr; scope = scope->outer_) scope->used_ += bytes;
  }
};

namespace {

/// LibTorch's CPU allocator, with the thread's scopes checked before each allocation. What it returns is
/// the wrapped allocator's, deleter included, so memory allocated before or after it was installed is
/// freed alike.
class BoundingAllocator final : public c10::Allocator {
 public:
  explicit BoundingAllocator(c10::Allocator* wrapped) : wrapped_(wrapped) {}

  c10::DataPtr allocate(std::size_t bytes) const override {
    if (innermost != nullptr) AllocationLimitAccount::charge(bytes);
    return wrapped_->allocate(bytes);
  }
  c10::DeleterFnPtr raw_deleter() const override { return wrapped_->raw_deleter(); }

 private:
  c10::Allocator* wrapped_;
};

/// Installed while the library loads, before any thread of the program can allocate through LibTorch.
/// The priority is above the default allocator's, so LibTorch keeps it.
const bool installed = [] {
  static BoundingAllocator allocator(c10::GetCPUAllocator());
  c10::SetCPUAllocator(&allocator, /*priority=*/1);
  return true;
}();

}  // namespace

AllocationLimit::AllocationLimit(std::size_t bytes, std::string scope)
    : limit_(bytes), scope_(std::move(scope)), outer_(innermost) {
  (void)installed;
  innermost = this;
}

AllocationLimit::~AllocationLimit() {
  innermost = outer_;
}

}  // namespace torchsystem
