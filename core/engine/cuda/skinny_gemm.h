// Y [rows x out] = X [rows x in] W^T + beta Y for a 16-bit Linear layer (or a batch of them, such as
// MLA's per-head absorbed products) and at most kSkinnyRows rows: the shape of a decode step, where
// cuBLAS's GEMMs (split-K, reductions) read the weights well below the memory's speed.
#ifndef TRANSMLA_CORE_ENGINE_CUDA_SKINNY_GEMM_H_
#define TRANSMLA_CORE_ENGINE_CUDA_SKINNY_GEMM_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"
#include "core/engine/cuda/gemm.h"
#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

// Above 8 rows each block's reads of X (all of it, for 16 outputs) outweigh its weights: tiles of 8
// rows up to 32 streamed at 1.4-2.6 TB/s on the H200 (sixteenth session), cuBLAS at 2.7-4.0.
constexpr int64_t kSkinnyRows = 8;

// Whether SkinnyGemm takes this product: 16-bit X and W of one type, Y float32 or (with beta 0) of
// X's type, at most kSkinnyRows rows, `in` a multiple of 32, 16-byte aligned rows and batch strides.
bool SkinnyGemmApplies(const Operand& x, const Operand& w, const Output& y, int64_t rows, int64_t in, float beta);

// For each of `batch` (operands `stride` elements apart): Y [rows x out] = X [rows x in] W^T + beta Y,
// W [out x in] row-major (a Linear layer's). beta 0 ignores Y's old contents.
absl::Status SkinnyGemm(const Operand& x, const Operand& w, int64_t rows, int64_t in, int64_t out, const Output& y,
                        float beta, int64_t batch, cudaStream_t stream);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_SKINNY_GEMM_H_
