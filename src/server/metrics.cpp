// Prometheus metrics (see metrics.hpp).
#include "metrics.hpp"

#include <cstdio>

namespace torchsystem::server {
namespace {

/// A label value in the exposition format: backslash, quote and line feed escaped.
std::string label(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

}  // namespace

void Metrics::record(std::string_view route, std::string_view method, unsigned status,
                     std::chrono::steady_clock::duration latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  const std::lock_guard lock(mutex_);
  ++requests_[{route, method, status}];
  Histogram& histogram = latency_[route];
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (seconds <= bounds[i]) {
      ++histogram.buckets[i];
      break;
    }
  }
  ++histogram.count;
  histogram.sum += seconds;
}

std::string Metrics::render(std::size_t open_connections, std::size_t queued_jobs) const {
  const std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP torchsystem_http_requests_total HTTP requests answered, by route template and status.\n";
  out += "# TYPE torchsystem_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [route, method, status] = key;
    out += "torchsystem_http_requests_total{route=\"" + label(route) + "\",method=\"" + label(method) +
           "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP torchsystem_http_request_duration_seconds Time from a whole request read to its answer.\n";
  out += "# TYPE torchsystem_http_request_duration_seconds histogram\n";
  for (const auto& [route, histogram] : latency_) {
    const std::string prefix = "torchsystem_http_request_duration_seconds_bucket{route=\"" + label(route);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      cumulative += histogram.buckets[i];
      out += prefix + "\",le=\"" + number(bounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += prefix + R"(",le="+Inf"} )" + std::to_string(histogram.count) + "\n";
    out += "torchsystem_http_request_duration_seconds_sum{route=\"" + label(route) + "\"} " +
           number(histogram.sum) + "\n";
    out += "torchsystem_http_request_duration_seconds_count{route=\"" + label(route) + "\"} " +
           std::to_string(histogram.count) + "\n";
  }
  out += "# HELP torchsystem_http_open_connections Connections open now.\n";
  out += "# TYPE torchsystem_http_open_connections gauge\n";
  out += "torchsystem_http_open_connections " + std::to_string(open_connections) + "\n";
  out += "# HELP torchsystem_queued_jobs Jobs waiting for or running on the worker pool.\n";
  out += "# TYPE torchsystem_queued_jobs gauge\n";
  out += "torchsystem_queued_jobs " + std::to_string(queued_jobs) + "\n";
  return out;
}

}  // namespace torchsystem::server
