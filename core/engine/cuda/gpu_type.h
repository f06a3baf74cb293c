#ifndef TRANSMLA_CORE_ENGINE_CUDA_GPU_TYPE_H_
#define TRANSMLA_CORE_ENGINE_CUDA_GPU_TYPE_H_

#include <library_types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace transmla::cuda {

// How the engine holds weights, the KV cache and GEMM inputs. Activations between kernels (the
// residual stream, GEMM outputs, softmax statistics) are float32 in every mode.
enum class GpuType { kF32, kBF16, kF16 };

inline size_t Bytes(GpuType t) { return t == GpuType::kF32 ? 4 : 2; }
inline cudaDataType CudaType(GpuType t) {
  return t == GpuType::kF32 ? CUDA_R_32F : t == GpuType::kBF16 ? CUDA_R_16BF : CUDA_R_16F;
}
// Dims as the engine stores them: 16-bit tensor-core tiles need multiples of 16 (the padding stays zero).
inline int64_t PaddedDims(int64_t dims, GpuType t) { return t == GpuType::kF32 ? dims : (dims + 15) / 16 * 16; }
inline std::string Name(GpuType t) { return t == GpuType::kF32 ? "f32" : t == GpuType::kBF16 ? "bf16" : "f16"; }

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_GPU_TYPE_H_
