// transmla-convert-server: the ConversionService (see proto/transmla/v1/conversion_service.proto).
//
//   transmla-convert-server --listen HOST:PORT --model-root DIR --artifact-root DIR --state-dir DIR
//       [--concurrency N] [--queue-limit N] [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
//       [--auth-token T ...] [--metrics-port N] [--log-level L] [--log-format text|json] [--config FILE]
//
// SIGTERM/SIGINT: health turns NOT_SERVING, new jobs are refused, running jobs get
// --shutdown-grace-seconds to finish and are then checkpointed (re-queued), and the process exits 0.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/time/time.h"
#include "fmt/format.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/cuda_engine.h"
#endif
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/common/auth.h"
#include "server/common/logging.h"
#include "server/common/metrics.h"
#include "server/common/path_guard.h"
#include "server/common/server_flags.h"
#include "server/common/server_setup.h"
#include "server/conversion/conversion_service.h"
#include "server/conversion/converter_runner.h"
#include "spdlog/spdlog.h"

namespace transmla::server {
namespace {

constexpr const char* kServiceName = "transmla.v1.ConversionService";

absl::StatusOr<std::filesystem::path> MakeDirectory(const std::string& dir, const char* flag) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::filesystem::path canonical = std::filesystem::canonical(dir, ec);
  if (ec) return absl::InvalidArgumentError(fmt::format("{}: cannot create {}: {}", flag, dir, ec.message()));
  return canonical;
}

// Two servers on one state directory would both run its queued jobs. An flock is released by the
// kernel however the holder dies (SIGKILL included), so a restart never finds a stale lock.
absl::Status LockStateDirectory(const std::filesystem::path& state_dir) {
  const std::filesystem::path lock = state_dir / "server.lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        fmt::format("--state-dir {} is in use by another server (lock {})", state_dir.string(), lock.string()));
  }
  return absl::OkStatus();  // the descriptor stays open for the life of the process
}

int Serve(const ServerFlags& flags) {
  absl::StatusOr<std::filesystem::path> artifact_root = MakeDirectory(flags.artifact_root, "--artifact-root");
  absl::StatusOr<std::filesystem::path> state_dir = MakeDirectory(flags.state_dir, "--state-dir");
  for (const auto* dir : {&artifact_root, &state_dir}) {
    if (!dir->ok()) return spdlog::critical("{}", dir->status().ToString()), 2;
  }
  if (absl::Status s = LockStateDirectory(*state_dir); !s.ok()) return spdlog::critical("{}", s.ToString()), 2;
  std::vector<std::filesystem::path> roots(flags.model_roots.begin(), flags.model_roots.end());
  absl::StatusOr<PathGuard> models = PathGuard::Create(roots);
  if (!models.ok()) return spdlog::critical("--model-root: {}", models.status().ToString()), 2;
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(*state_dir / "jobs.db");
  if (!store.ok()) return spdlog::critical("{}", store.status().ToString()), 2;

  ConversionMetrics metrics;
  int metrics_port = -1;
  if (flags.metrics_port >= 0) {
    absl::StatusOr<int> port = metrics.Serve(flags.metrics_address, flags.metrics_port);
    if (!port.ok()) return spdlog::critical("{}", port.status().ToString()), 2;
    metrics_port = *port;
  }
  JobQueue queue(store->get(), MakeConverterRunner(&*models),
                 {*artifact_root, flags.concurrency, flags.queue_limit, flags.max_attempts}, &metrics);
  if (absl::Status s = queue.Start(); !s.ok()) return spdlog::critical("cannot start the job queue: {}", s.ToString()), 2;

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeServerCredentials(flags);
  if (!credentials.ok()) return spdlog::critical("{}", credentials.status().ToString()), 2;
  BearerTokenAuth auth(flags.auth_tokens);
  ConversionServiceImpl service(&queue, store->get(), &*models, &auth, &metrics);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags.listen, *credentials, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return spdlog::critical("cannot listen on {}", flags.listen), 2;
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus(kServiceName, true);
  spdlog::info("serving {} on port {} ({}; auth {}), metrics port {}, {} worker(s), artifacts in {}", kServiceName, port,
               TransportName(flags),
               auth.enabled() ? "on" : "off", metrics_port, flags.concurrency, artifact_root->string());
  WriteReadyFile(flags.ready_file, port, metrics_port);

  const int signal_number = WaitForStopSignal();
  spdlog::info("received signal {}: draining", signal_number);
  health->SetServingStatus(false);
  health->SetServingStatus(kServiceName, false);
  queue.Drain(absl::Seconds(flags.shutdown_grace_seconds));
  // Watch streams end by themselves once the queue has stopped; give them a moment.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace transmla::server

int main(int argc, char** argv) {
#ifdef TRANSMLA_HAVE_CUDA
  transmla::cuda::RegisterCudaBackend();  // calibration on the GPU (options.calibration.device)
#endif
  const transmla::server::ServiceStart start = transmla::server::StartService(
      argc, argv, transmla::server::ServiceKind::kConversion, "--listen HOST:PORT --model-root DIR --artifact-root DIR --state-dir DIR [flags]");
  if (!start.flags) return start.exit_code;
  return transmla::server::Serve(*start.flags);
}
