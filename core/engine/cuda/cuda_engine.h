#ifndef TRANSMLA_CORE_ENGINE_CUDA_CUDA_ENGINE_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CUDA_ENGINE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/io/tensor_store.h"

namespace transmla::cuda {

// Llama-family (GQA/MHA) decoder on one CUDA device: float32 weights, cuBLAS SGEMMs (FP32, no
// TF32), our kernels for embedding, RMSNorm, rotate-half RoPE, SiLU*mul, residual adds and a
// causal attention with an online softmax over each sequence's device KV cache. Sequences of any
// lengths step together in one batch; the KV budget is shared by all of them. DeepSeek-V3 (MLA)
// checkpoints are refused for now (Unimplemented).
absl::StatusOr<std::unique_ptr<Engine>> CreateCudaEngine(const ModelConfig& config, const TensorStore& store,
                                                         int64_t max_kv_bytes);

// Whether a CUDA device can be used; `why` says why not.
bool CudaDeviceAvailable(std::string* why);

// Makes this engine what LoadModel uses for --device cuda|auto (call once, early in main).
void RegisterCudaBackend();

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CUDA_ENGINE_H_
