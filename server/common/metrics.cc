#include "server/common/metrics.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(address.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(fmt::format("--metrics-address: cannot resolve \"{}\"", address));
  }
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool bound = fd >= 0 && bind(fd, found->ai_addr, found->ai_addrlen) == 0 && listen(fd, 64) == 0;
  freeaddrinfo(found);
  if (!bound) {
    const std::string reason = std::strerror(errno);
    if (fd >= 0) close(fd);
    return absl::UnavailableError(fmt::format("cannot serve metrics on {}:{}: {}", address, port, reason));
  }
  sockaddr_storage bound_address{};
  socklen_t length = sizeof(bound_address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound_address), &length);
  const int bound_port = ntohs(bound_address.ss_family == AF_INET6
                                   ? reinterpret_cast<sockaddr_in6*>(&bound_address)->sin6_port
                                   : reinterpret_cast<sockaddr_in*>(&bound_address)->sin_port);
  listener_ = fd;
  thread_ = std::thread([this] { ServeConnections(); });
  return bound_port;
}

// One scrape at a time is plenty for Prometheus; each connection gets one answer and is closed.
void MetricsEndpoint::ServeConnections() {
  while (!stopping_.load()) {
    const int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    timeval timeout{5, 0};
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::string request;
    char buffer[2048];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
      const ssize_t n = recv(client, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    const bool metrics = request.rfind("GET /metrics ", 0) == 0 || request.rfind("GET /metrics?", 0) == 0;
    const std::string body = metrics ? Scrape() : "not found: try /metrics\n";
    const std::string response =
        fmt::format("HTTP/1.1 {}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n"
                    "Connection: close\r\n\r\n{}",
                    metrics ? "200 OK" : "404 Not Found", body.size(), body);
    for (size_t sent = 0; sent < response.size();) {
      const ssize_t n = send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    close(client);
  }
}

MetricsEndpoint::~MetricsEndpoint() {
  stopping_.store(true);
  if (listener_ >= 0) shutdown(listener_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  if (listener_ >= 0) close(listener_);
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
