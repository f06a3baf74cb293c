// transmla-inference-server: the InferenceService (see proto/transmla/v1/inference_service.proto).
//
//   transmla-inference-server --listen HOST:PORT --model-root DIR [--load NAME=PATH ...]
//       [--device cpu|cuda|auto] [--queue-limit N] [--max-batch N] [--max-kv-bytes N]
//       [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] [--auth-token T ...] [--metrics-port N]
//       [--log-level L] [--log-format text|json] [--shutdown-grace-seconds S] [--config FILE]
//
// Health: "" is SERVING once the server listens; "transmla.v1.InferenceService" only once every
// --load model is READY (readiness), and each model's name is SERVING while it is READY.
// SIGTERM/SIGINT: health turns NOT_SERVING, new requests get UNAVAILABLE, admitted generations
// get --shutdown-grace-seconds to finish, then the process exits 0.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "fmt/format.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/cuda_engine.h"
#endif
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/common/auth.h"
#include "server/common/logging.h"
#include "server/common/path_guard.h"
#include "server/common/server_flags.h"
#include "server/common/server_setup.h"
#include "server/inference/inference_service.h"
#include "spdlog/spdlog.h"

namespace transmla::server {
namespace {

constexpr const char* kServiceName = "transmla.v1.InferenceService";

// Follows model states into the health service: the service is SERVING once every preloaded
// model is READY (and not while draining); each model's name is SERVING while it is READY.
class HealthTracker {
 public:
  explicit HealthTracker(std::set<std::string> required) : required_(std::move(required)) {}

  void Attach(grpc::HealthCheckServiceInterface* health) {
    absl::MutexLock lock(&mutex_);
    health_ = health;
    Publish();
  }
  void OnState(const std::string& model, ModelState state) {
    absl::MutexLock lock(&mutex_);
    if (state == ModelState::kReady) {
      ready_.insert(model);
    } else {
      ready_.erase(model);
    }
    if (health_ != nullptr) health_->SetServingStatus(model, state == ModelState::kReady);
    Publish();
  }
  void Drain() {
    absl::MutexLock lock(&mutex_);
    draining_ = true;
    health_->SetServingStatus(false);
  }

 private:
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (health_ == nullptr) return;
    bool all_ready = !draining_;
    for (const std::string& name : required_) all_ready = all_ready && ready_.count(name) > 0;
    health_->SetServingStatus(kServiceName, all_ready);
  }

  absl::Mutex mutex_;
  const std::set<std::string> required_;
  std::set<std::string> ready_ ABSL_GUARDED_BY(mutex_);
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mutex_) = nullptr;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
};

// Waits until no model has waiting or running requests, or `grace` passes.
void WaitForIdle(const ModelRegistry& registry, absl::Duration grace) {
  const absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    int busy = 0;
    for (const ModelInfo& m : registry.List()) busy += m.serving.running + m.serving.waiting;
    if (busy == 0) return;
    absl::SleepFor(absl::Milliseconds(50));
  }
  spdlog::warn("shutdown grace elapsed with requests still running; they end with ABORTED");
}

int Serve(const ServerFlags& flags) {
  std::vector<std::filesystem::path> roots(flags.model_roots.begin(), flags.model_roots.end());
  absl::StatusOr<PathGuard> models = PathGuard::Create(roots);
  if (!models.ok()) return spdlog::critical("--model-root: {}", models.status().ToString()), 2;
  InferenceMetrics metrics;
  int metrics_port = -1;
  if (flags.metrics_port >= 0) {
    absl::StatusOr<int> port = metrics.Serve(flags.metrics_address, flags.metrics_port);
    if (!port.ok()) return spdlog::critical("{}", port.status().ToString()), 2;
    metrics_port = *port;
  }
  std::set<std::string> preloaded;
  for (const std::string& load : flags.loads) preloaded.insert(load.substr(0, load.find('=')));
  HealthTracker health(preloaded);

  RegistryOptions options;
  options.engine.device = flags.device;
  options.engine.gpu_dtype = flags.gpu_dtype;
  options.engine.threads = flags.threads;
  options.engine.max_kv_bytes = flags.max_kv_bytes;
  options.serving.queue_limit = flags.queue_limit;
  options.serving.max_batch = flags.max_batch;
  options.on_state = [&](const std::string& name, ModelState state) {
    health.OnState(name, state);
    metrics.SetReady(name, state == ModelState::kReady);
  };
  options.observer_for = [&](const std::string& name) { return metrics.ObserverFor(name); };
  ModelRegistry registry(&*models, options);
  for (const std::string& load : flags.loads) {
    const size_t eq = load.find('=');
    absl::StatusOr<ModelInfo> started = registry.Load(load.substr(0, eq), load.substr(eq + 1));
    if (!started.ok()) return spdlog::critical("--load {}: {}", load, started.status().ToString()), 2;
  }

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeServerCredentials(flags);
  if (!credentials.ok()) return spdlog::critical("{}", credentials.status().ToString()), 2;
  BearerTokenAuth auth(flags.auth_tokens);
  InferenceServiceImpl service(&registry, &auth, &metrics);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags.listen, *credentials, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return spdlog::critical("cannot listen on {}", flags.listen), 2;
  server->GetHealthCheckService()->SetServingStatus(true);
  health.Attach(server->GetHealthCheckService());
  spdlog::info("serving {} on port {} ({}; auth {}), metrics port {}, device {}, {} model(s) loading", kServiceName,
               port, TransportName(flags), auth.enabled() ? "on" : "off", metrics_port, flags.device,
               flags.loads.size());
  WriteReadyFile(flags.ready_file, port, metrics_port);

  const int signal_number = WaitForStopSignal();
  spdlog::info("received signal {}: draining", signal_number);
  health.Drain();
  service.StartDraining();
  WaitForIdle(registry, absl::Seconds(flags.shutdown_grace_seconds));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace transmla::server

int main(int argc, char** argv) {
#ifdef TRANSMLA_HAVE_CUDA
  transmla::cuda::RegisterCudaBackend();
#endif
  const transmla::server::ServiceStart start = transmla::server::StartService(
      argc, argv, transmla::server::ServiceKind::kInference, "--listen HOST:PORT --model-root DIR [--load NAME=PATH]... [flags]");
  if (!start.flags) return start.exit_code;
  return transmla::server::Serve(*start.flags);
}
