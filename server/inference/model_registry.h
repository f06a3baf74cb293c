#ifndef TRANSMLA_SERVER_INFERENCE_MODEL_REGISTRY_H_
#define TRANSMLA_SERVER_INFERENCE_MODEL_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/engine/model_loader.h"
#include "server/common/path_guard.h"
#include "server/inference/serving_loop.h"

namespace transmla::server {

enum class ModelState { kLoading, kReady, kUnloading, kFailed };

// What GetModel reports.
struct ModelInfo {
  std::string name;
  std::string path;
  ModelState state = ModelState::kLoading;
  std::string failure_reason;
  std::string architecture;
  int64_t parameters = 0;
  std::string dtype;
  std::string device;
  int64_t kv_bytes_per_token = 0;
  int64_t weight_bytes = 0;
  int64_t max_position_embeddings = 0;
  ServingStats serving;
};

// A model and its serving loop. Requests hold a shared_ptr, so an unload never frees a model
// under a running call.
class HostedModel {
 public:
  HostedModel(std::string name, std::string path) : name_(std::move(name)), path_(std::move(path)) {}

  ModelInfo Info() const;
  // The loop when READY; FailedPrecondition naming the state otherwise.
  absl::StatusOr<ServingLoop*> Loop();
  // The tokenizer and engine (valid once Loop() has succeeded; engine calls go through the loop).
  const LoadedModel& loaded() const { return *model_; }

 private:
  friend class ModelRegistry;
  const std::string name_;
  const std::string path_;
  mutable absl::Mutex mutex_;
  ModelState state_ ABSL_GUARDED_BY(mutex_) = ModelState::kLoading;
  std::string failure_reason_ ABSL_GUARDED_BY(mutex_);
  std::unique_ptr<LoadedModel> model_;
  std::unique_ptr<ServingLoop> loop_;
};

struct RegistryOptions {
  EngineOptions engine;
  ServingLoopOptions serving;
  // Called when a model's state changes (health and metrics follow it).
  std::function<void(const std::string& name, ModelState state)> on_state;
  // Per-model observer of its serving loop (metrics).
  std::function<ServingObserver(const std::string& name)> observer_for;
};

// The loaded models by name. Loading happens on its own thread (LOADING until it ends).
class ModelRegistry {
 public:
  ModelRegistry(const PathGuard* roots, RegistryOptions options);
  ~ModelRegistry();  // stops every loop and waits for loads in flight

  // Starts loading `path` (inside a model root) as `name`. InvalidArgument for a bad name,
  // AlreadyExists for a taken one, and the path guard's errors for the path.
  absl::StatusOr<ModelInfo> Load(const std::string& name, const std::string& path);
  // Fails the model's requests with Aborted and forgets it. NotFound for unknown names.
  absl::Status Unload(const std::string& name);
  absl::StatusOr<std::shared_ptr<HostedModel>> Find(const std::string& name) const;
  std::vector<ModelInfo> List() const;

 private:
  void LoadInBackground(std::shared_ptr<HostedModel> model, std::filesystem::path path);

  const PathGuard* roots_;
  const RegistryOptions options_;
  mutable absl::Mutex mutex_;
  std::map<std::string, std::shared_ptr<HostedModel>> models_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::thread> loaders_ ABSL_GUARDED_BY(mutex_);
};

std::string ModelStateName(ModelState state);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_INFERENCE_MODEL_REGISTRY_H_
