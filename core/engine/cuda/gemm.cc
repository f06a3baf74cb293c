#include "core/engine/cuda/gemm.h"

#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/skinny_gemm.h"

namespace transmla::cuda {

absl::Status Gemm(cublasHandle_t blas, const Operand& x, const Operand& w, int64_t rows, int64_t in, int64_t out,
                  const Output& y, float beta, int64_t batch) {
  const float one = 1.0f;
  // cuBLAS is column-major: Y^T [out x rows] = W [out x in] * X^T [in x rows], and a row-major W
  // [out x in] is W^T column-major, hence OP_T.
  const int m = static_cast<int>(out), n = static_cast<int>(rows), k = static_cast<int>(in);
  if (SkinnyGemmApplies(x, w, y, rows, in, beta)) {
    return SkinnyGemm(x, w, rows, in, out, y, beta, batch, nullptr);
  }
  if (batch == 1) {
    CUBLAS_RETURN_IF_ERROR(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, w.data, CudaType(w.type),
                                        static_cast<int>(w.ld), x.data, CudaType(x.type), static_cast<int>(x.ld),
                                        &beta, y.data, CudaType(y.type), static_cast<int>(y.ld), CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT));
    return absl::OkStatus();
  }
  CUBLAS_RETURN_IF_ERROR(cublasGemmStridedBatchedEx(
      blas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, w.data, CudaType(w.type), static_cast<int>(w.ld), w.stride, x.data,
      CudaType(x.type), static_cast<int>(x.ld), x.stride, &beta, y.data, CudaType(y.type), static_cast<int>(y.ld),
      y.stride, static_cast<int>(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  return absl::OkStatus();
}

}  // namespace transmla::cuda
