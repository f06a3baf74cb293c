#include "core/engine/model_loader.h"

#include <omp.h>

#include "Eigen/Core"
#include "core/engine/cpu/cpu_engine.h"
#include "core/engine/gpu_backend.h"
#include "core/io/gguf_model.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace transmla {
namespace {

struct ModelSource {
  ModelConfig config;
  TensorStore tensors;
  std::unique_ptr<Tokenizer> tokenizer;
};

absl::StatusOr<ModelSource> OpenHfFolder(const std::filesystem::path& dir) {
  ModelSource source;
  ASSIGN_OR_RETURN(source.config, ReadModelConfig(dir / "config.json"));
  ASSIGN_OR_RETURN(source.tensors, TensorStore::OpenSafetensors(dir));
  // Synthetic checkpoints may come without a tokenizer; they still run on token ids.
  std::error_code ec;
  if (std::filesystem::exists(dir / "tokenizer.json", ec)) {
    ASSIGN_OR_RETURN(source.tokenizer, LoadTokenizer(dir));
  }
  return source;
}

absl::StatusOr<ModelSource> OpenModelSource(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(fmt::format("model not found: {}", path.string()));
  }
  if (std::filesystem::is_directory(path, ec)) return OpenHfFolder(path);
  if (path.extension() == ".gguf") {
    ASSIGN_OR_RETURN(GgufModel gguf, LoadGgufModel(path));
    return ModelSource{gguf.config, std::move(gguf.tensors), std::move(gguf.tokenizer)};
  }
  return absl::InvalidArgumentError(
      fmt::format("{} is neither a model folder (config.json + safetensors) nor a .gguf file", path.string()));
}

absl::Status ConfigureThreads(int threads) {
  if (threads < 0) return absl::InvalidArgumentError(fmt::format("threads must be >= 0, got {}", threads));
  if (threads > 0) {
    omp_set_num_threads(threads);
    Eigen::setNbThreads(threads);
  }
  return absl::OkStatus();
}

// "auto" takes the GPU when this build has the CUDA backend, a device is present and the
// architecture runs there; "cuda" insists.
absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(const ModelSource& source, const EngineOptions& options) {
  const GpuBackend* gpu = RegisteredGpuBackend();
  if (options.device == "cuda" && gpu == nullptr) {
    return absl::FailedPreconditionError(
        "this program has no CUDA backend (built without nvcc, TRANSMLA_WITH_CUDA=OFF, or a binary that does not "
        "link it)");
  }
  const bool gpu_ready = gpu != nullptr && gpu->available(nullptr) && gpu->supports(source.config);
  if (options.device == "cuda" || (options.device == "auto" && gpu_ready)) {
    return gpu->create(source.config, source.tensors, options);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<cpu::CpuEngine> engine,
                   cpu::CpuEngine::Create(source.config, source.tensors, options.max_kv_bytes, options.absorbed_mla,
                                          options.threads));
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace

absl::StatusOr<LoadedModel> LoadModel(const std::filesystem::path& path, const EngineOptions& options) {
  RETURN_IF_ERROR(ConfigureThreads(options.threads));
  if (options.max_kv_bytes < 0) return absl::InvalidArgumentError("max_kv_bytes must be >= 0");
  if (options.device != "cpu" && options.device != "cuda" && options.device != "auto") {
    return absl::InvalidArgumentError(fmt::format("device must be cpu, cuda or auto, got \"{}\"", options.device));
  }
  if (options.gpu_dtype != "auto" && options.gpu_dtype != "bf16" && options.gpu_dtype != "f16" &&
      options.gpu_dtype != "f32") {
    return absl::InvalidArgumentError(
        fmt::format("gpu dtype must be auto, bf16, f16 or f32, got \"{}\"", options.gpu_dtype));
  }
  ASSIGN_OR_RETURN(ModelSource source, OpenModelSource(path));
  LoadedModel model;
  model.path = path;
  model.tokenizer = std::move(source.tokenizer);
  ASSIGN_OR_RETURN(model.engine, CreateEngine(source, options));
  spdlog::debug("loaded {} ({} parameters, {} KV bytes/token) on {}", path.string(), model.engine->NumParameters(),
                model.engine->KvBytesPerToken(), model.engine->device());
  return model;
}

}  // namespace transmla
