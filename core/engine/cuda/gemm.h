#ifndef TRANSMLA_CORE_ENGINE_CUDA_GEMM_H_
#define TRANSMLA_CORE_ENGINE_CUDA_GEMM_H_

#include <cublas_v2.h>

#include <cstdint>

#include "absl/status/status.h"
#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

// A row-major matrix operand: element (r, c) at data[r * ld + c]; batch b starts at data + b * stride
// elements.
struct Operand {
  const void* data = nullptr;
  GpuType type = GpuType::kF32;
  int64_t ld = 0;
  int64_t stride = 0;
};
struct Output {
  void* data = nullptr;
  GpuType type = GpuType::kF32;
  int64_t ld = 0;
  int64_t stride = 0;
};

// For each of `batch`: Y [rows x out] = X [rows x in] * W^T + beta * Y for a W of [out x in] (a Linear
// layer's). Accumulates in FP32 (no TF32 for float32 inputs; tensor cores for 16-bit inputs). 16-bit
// products over at most kSkinnyRows rows (a decode step) run SkinnyGemm instead of cuBLAS.
absl::Status Gemm(cublasHandle_t blas, const Operand& x, const Operand& w, int64_t rows, int64_t in, int64_t out,
                  const Output& y, float beta = 0.0f, int64_t batch = 1);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_GEMM_H_
