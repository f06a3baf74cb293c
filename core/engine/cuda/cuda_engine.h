#ifndef TRANSMLA_CORE_ENGINE_CUDA_CUDA_ENGINE_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CUDA_ENGINE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/engine/engine_options.h"
#include "core/io/tensor_store.h"

namespace transmla::cuda {

// Llama-family (GQA/MHA) and DeepSeek-V3 dense (MLA) decoders on one CUDA device. Weights and the
// KV cache in BF16, FP16 or FP32 (options.gpu_dtype); GEMMs through cuBLAS with FP32 accumulation
// (tensor cores for 16-bit, no TF32 for FP32); our kernels for embedding, RMSNorm, RoPE
// (rotate-half for Llama, interleaved for DeepSeek), SiLU*mul and attention. MLA runs absorbed: the
// cache holds the latent and k_pe only, W_UK is folded into the query and W_UV applied after
// attention, and the attention reads each sequence's latent once for all heads. Sequences of any
// lengths step together in one batch; the KV budget is shared by all of them.
absl::StatusOr<std::unique_ptr<Engine>> CreateCudaEngine(const ModelConfig& config, const TensorStore& store,
                                                         const EngineOptions& options);

// Whether a CUDA device can be used; `why` says why not.
bool CudaDeviceAvailable(std::string* why);

// Makes this engine what LoadModel uses for --device cuda|auto (call once, early in main).
void RegisterCudaBackend();

// Benchmarks only: grows a sequence of a CUDA engine to `length` cached positions without running
// the model (the new cache entries are zero), so decode can be timed at long contexts.
absl::Status ExtendForBenchmark(Sequence* sequence, int64_t length);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CUDA_ENGINE_H_
