// Coverage feedback for libFuzzer in a g++ build (the checkpoint targets: LibTorch 1.13's headers do not
// compile with clang 14 in C++20 mode). g++ cannot emit the inline 8-bit counters libFuzzer reads, and
// libFuzzer 14 refuses g++'s -fsanitize-coverage=trace-pc; but g++ can call a hook on every function
// entry (-finstrument-functions). These hooks count each (function, call site) pair in a counter array
// registered with libFuzzer as if it were a module's 8-bit counters. With g++'s
// -fsanitize-coverage=trace-cmp (which libFuzzer does understand) the fuzzer sees new calls and new
// comparison operands. This file itself must not be compiled with -finstrument-functions.
#include <cstddef>
#include <cstdint>

extern "C" void __sanitizer_cov_8bit_counters_init(std::uint8_t* begin, std::uint8_t* end);

namespace {

constexpr std::size_t counter_count = std::size_t{1} << 16;
alignas(64) std::uint8_t counters[counter_count];

struct Registration {
  Registration() { __sanitizer_cov_8bit_counters_init(counters, counters + counter_count); }
};
// Registered before any other static constructor runs code worth counting, and before libFuzzer's main.
[[gnu::init_priority(101)]] Registration registration;

}  // namespace

extern "C" [[gnu::no_instrument_function]] void __cyg_profile_func_enter(void* function, void* call_site) {
  // A cheap mix of both addresses; collisions only merge two counters.
  auto key = reinterpret_cast<std::uintptr_t>(function) * 0x9e3779b97f4a7c15ULL ^
             reinterpret_cast<std::uintptr_t>(call_site);
  key ^= key >> 29;
  std::uint8_t& counter = counters[key & (counter_count - 1)];
  counter = static_cast<std::uint8_t>(counter + 1);
}

extern "C" [[gnu::no_instrument_function]] void __cyg_profile_func_exit(void*, void*) {}

// g++'s trace-cmp also reports floating-point comparisons, which libFuzzer has no hooks for.
extern "C" [[gnu::no_instrument_function]] void __sanitizer_cov_trace_cmpf(float, float) {}
extern "C" [[gnu::no_instrument_function]] void __sanitizer_cov_trace_cmpd(double, double) {}
