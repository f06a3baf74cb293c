#ifndef TRANSMLA_SERVER_COMMON_METRICS_H_
#define TRANSMLA_SERVER_COMMON_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace transmla::server {

// A Prometheus registry with its own HTTP endpoint (so scraping never competes with, or needs the
// credentials of, the gRPC listener).
class MetricsEndpoint {
 public:
  MetricsEndpoint() : registry_(std::make_shared<prometheus::Registry>()) {}

  // Starts the HTTP endpoint on address:port (port 0: any free port). Returns the bound port.
  absl::StatusOr<int> Serve(const std::string& address, int port);

  // The text exposition of every metric (tests; the endpoint serves the same).
  std::string Scrape() const;

 protected:
  std::shared_ptr<prometheus::Registry> registry_;

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
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
