#include "server/inference/model_registry.h"

#include <regex>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace transmla::server {

std::string ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kLoading: return "LOADING";
    case ModelState::kReady: return "READY";
    case ModelState::kUnloading: return "UNLOADING";
    case ModelState::kFailed: return "FAILED";
  }
  return "UNKNOWN";
}

ModelInfo HostedModel::Info() const {
  ModelInfo info;
  info.name = name_;
  info.path = path_;
  {
    absl::MutexLock lock(&mutex_);
    info.state = state_;
    info.failure_reason = failure_reason_;
    if (state_ != ModelState::kReady) return info;
  }
  const Engine& engine = *model_->engine;
  info.architecture = engine.config().model_type;
  info.parameters = engine.NumParameters();
  info.dtype = engine.WeightDType();
  info.device = engine.device();
  info.kv_bytes_per_token = engine.KvBytesPerToken();
  info.weight_bytes = engine.WeightBytes();
  info.max_position_embeddings = engine.config().max_position_embeddings;
  info.serving = loop_->stats();
  return info;
}

absl::StatusOr<ServingLoop*> HostedModel::Loop() {
  absl::MutexLock lock(&mutex_);
  if (state_ != ModelState::kReady) {
    return absl::FailedPreconditionError(fmt::format("model \"{}\" is {}{}", name_, ModelStateName(state_),
                                                     failure_reason_.empty() ? "" : ": " + failure_reason_));
  }
  return loop_.get();
}

ModelRegistry::ModelRegistry(const PathGuard* roots, RegistryOptions options)
    : roots_(roots), options_(std::move(options)) {}

ModelRegistry::~ModelRegistry() {
  std::vector<std::thread> loaders;
  {
    absl::MutexLock lock(&mutex_);
    loaders.swap(loaders_);
  }
  for (std::thread& t : loaders) t.join();
  absl::MutexLock lock(&mutex_);
  for (auto& [name, model] : models_) {
    if (model->loop_) model->loop_->Stop("server shutting down");
  }
}

absl::StatusOr<ModelInfo> ModelRegistry::Load(const std::string& name, const std::string& path) {
  static const std::regex kName("[A-Za-z0-9._-]{1,63}");
  if (!std::regex_match(name, kName)) {
    return absl::InvalidArgumentError(fmt::format("name must be 1 to 63 characters of [A-Za-z0-9._-], got \"{}\"", name));
  }
  absl::StatusOr<std::filesystem::path> resolved = roots_->Resolve("path", path);
  if (!resolved.ok()) return resolved.status();
  auto model = std::make_shared<HostedModel>(name, resolved->string());
  absl::MutexLock lock(&mutex_);
  if (models_.count(name) > 0) return absl::AlreadyExistsError(fmt::format("a model named \"{}\" exists", name));
  models_[name] = model;
  if (options_.on_state) options_.on_state(name, ModelState::kLoading);
  loaders_.emplace_back([this, model, p = *resolved] { LoadInBackground(model, p); });
  return model->Info();
}

void ModelRegistry::LoadInBackground(std::shared_ptr<HostedModel> model, std::filesystem::path path) {
  spdlog::info("[model {}] loading {}", model->name_, path.string());
  absl::StatusOr<LoadedModel> loaded = LoadModel(path, options_.engine);
  if (loaded.ok() && loaded->tokenizer == nullptr) {
    loaded = absl::FailedPreconditionError(fmt::format("{} has no tokenizer.json", path.string()));
  }
  ModelState state = ModelState::kReady;
  {
    absl::MutexLock lock(&model->mutex_);
    if (!loaded.ok()) {
      model->state_ = state = ModelState::kFailed;
      model->failure_reason_ = std::string(loaded.status().message());
    } else {
      model->model_ = std::make_unique<LoadedModel>(*std::move(loaded));
      ServingObserver observer = options_.observer_for ? options_.observer_for(model->name_) : ServingObserver{};
      model->loop_ = std::make_unique<ServingLoop>(model->model_.get(), options_.serving, std::move(observer));
      model->state_ = ModelState::kReady;
    }
  }
  if (state == ModelState::kReady) {
    spdlog::info("[model {}] ready", model->name_);
  } else {
    spdlog::error("[model {}] failed to load: {}", model->name_, model->failure_reason_);
  }
  if (options_.on_state) options_.on_state(model->name_, state);
}

absl::Status ModelRegistry::Unload(const std::string& name) {
  std::shared_ptr<HostedModel> model;
  {
    absl::MutexLock lock(&mutex_);
    auto it = models_.find(name);
    if (it == models_.end()) return absl::NotFoundError(fmt::format("no model named \"{}\"", name));
    model = it->second;
    absl::MutexLock model_lock(&model->mutex_);
    if (model->state_ == ModelState::kLoading) {
      return absl::FailedPreconditionError(fmt::format("model \"{}\" is still loading", name));
    }
    model->state_ = ModelState::kUnloading;
    models_.erase(it);
  }
  if (options_.on_state) options_.on_state(name, ModelState::kUnloading);
  if (model->loop_) model->loop_->Stop(fmt::format("model \"{}\" was unloaded", name));
  spdlog::info("[model {}] unloaded", name);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<HostedModel>> ModelRegistry::Find(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  auto it = models_.find(name);
  if (it == models_.end()) return absl::NotFoundError(fmt::format("no model named \"{}\"", name));
  return it->second;
}

std::vector<ModelInfo> ModelRegistry::List() const {
  std::vector<std::shared_ptr<HostedModel>> models;
  {
    absl::MutexLock lock(&mutex_);
    for (const auto& [name, model] : models_) models.push_back(model);
  }
  std::vector<ModelInfo> out;
  for (const auto& m : models) out.push_back(m->Info());
  return out;
}

}  // namespace transmla::server
