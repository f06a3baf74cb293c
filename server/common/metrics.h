#ifndef TRANSMLA_SERVER_COMMON_METRICS_H_
#define TRANSMLA_SERVER_COMMON_METRICS_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace transmla::server {

// A Prometheus registry with its own HTTP endpoint (so scraping never competes with, or needs the
// credentials of, the gRPC listener). The endpoint is a small accept loop of our own rather than
// prometheus-cpp's civetweb server, whose 100 KB thread stacks cannot hold the static TLS of the
// CUDA libraries the inference server links.
class MetricsEndpoint {
 public:
  MetricsEndpoint() : registry_(std::make_shared<prometheus::Registry>()) {}
  ~MetricsEndpoint();

  // Starts the HTTP endpoint on address:port (port 0: any free port). Returns the bound port.
  absl::StatusOr<int> Serve(const std::string& address, int port);

  // The text exposition of every metric (tests; the endpoint serves the same).
  std::string Scrape() const;

 protected:
  std::shared_ptr<prometheus::Registry> registry_;

 private:
  void ServeConnections();

  int listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// The conversion service's Prometheus metrics, served on their own port (so scraping never
// competes with, or needs the credentials of, the gRPC listener).
//   transmla_jobs{state}                        gauge: jobs per state now
//   transmla_jobs_submitted_total               counter
//   transmla_jobs_finished_total{state}         counter: SUCCEEDED / FAILED / CANCELLED
//   transmla_job_duration_seconds{state}        histogram of RUNNING time of finished jobs
//   transmla_artifact_bytes_written_total       counter: bytes of published artifacts
//   transmla_artifact_bytes_served_total        counter: bytes sent by ReadArtifact
//   transmla_rpc_errors_total{method,code}      counter: calls that ended with a non-OK status
class ConversionMetrics : public MetricsEndpoint {
 public:
  ConversionMetrics();

  void SetJobs(const std::string& state, double count);
  void JobSubmitted();
  void JobFinished(const std::string& state, double running_seconds);
  void ArtifactBytesWritten(double bytes);
  void ArtifactBytesServed(double bytes);
  void RpcError(const std::string& method, const std::string& code);

 private:
  prometheus::Family<prometheus::Gauge>& jobs_;
  prometheus::Counter& submitted_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Counter& bytes_written_;
  prometheus::Counter& bytes_served_;
  prometheus::Family<prometheus::Counter>& rpc_errors_;
};

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_COMMON_METRICS_H_
