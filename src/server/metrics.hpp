// The server's Prometheus metrics: requests by route template, method and status, and a latency
// histogram by route template. Internal to the server library.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace torchsystem::server {

class Metrics {
 public:
  /// Counts one answered request. `route` is its template ("unmatched" when none matched).
  void record(const std::string& route, const std::string& method, unsigned status,
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
  std::map<std::tuple<std::string, std::string, unsigned>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
};

}  // namespace torchsystem::server
