// Y [rows x out] (float32) = X [rows x in] W^T + beta Y for a 16-bit Linear layer and at most
// kSkinnyRows rows: the shape of a decode step, where cuBLAS's GEMMs (split-K, reductions) read
// the weights well below the memory's speed.
#ifndef TRANSMLA_CORE_ENGINE_CUDA_SKINNY_GEMM_H_
#define TRANSMLA_CORE_ENGINE_CUDA_SKINNY_GEMM_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"
#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

constexpr int64_t kSkinnyRows = 8;

// Whether SkinnyGemm takes this product: 16-bit X and W of one type, float32 Y, at most kSkinnyRows
// rows, `in` a multiple of 32 and 16-byte aligned rows.
bool SkinnyGemmApplies(GpuType x_type, GpuType w_type, GpuType y_type, int64_t rows, int64_t in, const void* x,
                       int64_t x_ld, const void* w, int64_t w_ld);

// W is [out x in] row-major with `w_ld` elements per row; X rows `x_ld` apart, Y rows `y_ld` apart.
// beta 0 ignores Y's old contents.
absl::Status SkinnyGemm(GpuType type, const void* x, int64_t x_ld, const void* w, int64_t w_ld, int64_t rows,
                        int64_t in, int64_t out, float* y, int64_t y_ld, float beta, cudaStream_t stream);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_SKINNY_GEMM_H_
