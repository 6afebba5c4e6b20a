// The server's Prometheus metrics: requests by route template, method and status, and a latency
// histogram by route template. Internal to the server library.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace torchsystem::server {

class Metrics {
 public:
  /// Counts one answered request. `route` and `method` are its route's template and method, or
  /// "unmatched" and "" when none matched: a client's own method or path never becomes a label, so
  /// clients cannot grow the series without bound. Both must outlive the Metrics (the router's strings).
  void record(std::string_view route, std::string_view method, unsigned status,
              std::chrono::steady_clock::duration latency);
  /// The Prometheus text exposition of everything recorded, plus connection gauges.
  std::string render(std::size_t open_connections, std::size_t queued_jobs) const;

 private:
  // Upper bounds in seconds: from a cached JSON answer (tens of microseconds) to a slow model load.
  static constexpr std::array<double, 12> bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                    0.01,   0.025,   0.05,   0.1,   0.5,    2.5};
  struct Histogram {
    std::array<std::uint64_t, bounds.size()> buckets{};  // not cumulative; summed when rendered
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  // Keyed by views of the router's strings: recording allocates nothing after a series' first request.
  std::map<std::tuple<std::string_view, std::string_view, unsigned>, std::uint64_t> requests_;
  std::map<std::string_view, Histogram> latency_;
};

}  // namespace torchsystem::server
