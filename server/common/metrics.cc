#include "server/common/metrics.h"

#include "fmt/format.h"
#include "prometheus/text_serializer.h"

namespace transmla::server {

ConversionMetrics::ConversionMetrics()
    : jobs_(prometheus::BuildGauge().Name("transmla_jobs").Help("Jobs per state").Register(*registry_)),
      submitted_(prometheus::BuildCounter()
                     .Name("transmla_jobs_submitted_total")
                     .Help("Jobs accepted by SubmitJob")
                     .Register(*registry_)
                     .Add({})),
      finished_(prometheus::BuildCounter()
                    .Name("transmla_jobs_finished_total")
                    .Help("Jobs that reached a terminal state")
                    .Register(*registry_)),
      duration_(prometheus::BuildHistogram()
                    .Name("transmla_job_duration_seconds")
                    .Help("Running time of finished jobs")
                    .Register(*registry_)),
      bytes_written_(prometheus::BuildCounter()
                         .Name("transmla_artifact_bytes_written_total")
                         .Help("Bytes of published artifacts")
                         .Register(*registry_)
                         .Add({})),
      bytes_served_(prometheus::BuildCounter()
                        .Name("transmla_artifact_bytes_served_total")
                        .Help("Artifact bytes sent by ReadArtifact")
                        .Register(*registry_)
                        .Add({})),
      rpc_errors_(prometheus::BuildCounter()
                      .Name("transmla_rpc_errors_total")
                      .Help("Calls that ended with a non-OK status")
                      .Register(*registry_)) {}

absl::StatusOr<int> MetricsEndpoint::Serve(const std::string& address, int port) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(fmt::format("{}:{}", address, port));
  } catch (const std::exception& e) {
    return absl::UnavailableError(fmt::format("cannot serve metrics on {}:{}: {}", address, port, e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (ports.empty()) return absl::UnavailableError("metrics endpoint bound no port");
  return ports.front();
}

void ConversionMetrics::SetJobs(const std::string& state, double count) { jobs_.Add({{"state", state}}).Set(count); }

void ConversionMetrics::JobSubmitted() { submitted_.Increment(); }

void ConversionMetrics::JobFinished(const std::string& state, double running_seconds) {
  finished_.Add({{"state", state}}).Increment();
  // Buckets from a second to a few hours: stories-sized models finish in seconds, 8B in tens of minutes.
  static const prometheus::Histogram::BucketBoundaries kBuckets = {1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400};
  duration_.Add({{"state", state}}, kBuckets).Observe(running_seconds);
}

void ConversionMetrics::ArtifactBytesWritten(double bytes) { bytes_written_.Increment(bytes); }

void ConversionMetrics::ArtifactBytesServed(double bytes) { bytes_served_.Increment(bytes); }

void ConversionMetrics::RpcError(const std::string& method, const std::string& code) {
  rpc_errors_.Add({{"method", method}, {"code", code}}).Increment();
}

std::string MetricsEndpoint::Scrape() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace transmla::server
