#include "core/engine/cuda/gemm.h"

#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/skinny_gemm.h"

namespace transmla::cuda {

absl::Status Gemm(cublasHandle_t blas, const Operand& x, const Operand& w, bool w_transposed, int64_t rows,
                  int64_t in, int64_t out, const Output& y, float beta, int64_t batch) {
  const float one = 1.0f;
  // cuBLAS is column-major: Y^T [out x rows] = op(W)^T [out x in] * X^T [in x rows]. A row-major
  // W [out x in] is W^T column-major, hence OP_T; a row-major [in x out] is op N.
  const cublasOperation_t op_w = w_transposed ? CUBLAS_OP_N : CUBLAS_OP_T;
  const int m = static_cast<int>(out), n = static_cast<int>(rows), k = static_cast<int>(in);
  if (batch == 1 && !w_transposed &&
      SkinnyGemmApplies(x.type, w.type, y.type, rows, in, x.data, x.ld, w.data, w.ld)) {
    return SkinnyGemm(x.type, x.data, x.ld, w.data, w.ld, rows, in, out, static_cast<float*>(y.data), y.ld, beta,
                      nullptr);
  }
  if (batch == 1) {
    CUBLAS_RETURN_IF_ERROR(cublasGemmEx(blas, op_w, CUBLAS_OP_N, m, n, k, &one, w.data, CudaType(w.type),
                                        static_cast<int>(w.ld), x.data, CudaType(x.type), static_cast<int>(x.ld),
                                        &beta, y.data, CudaType(y.type), static_cast<int>(y.ld), CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT));
    return absl::OkStatus();
  }
  CUBLAS_RETURN_IF_ERROR(cublasGemmStridedBatchedEx(
      blas, op_w, CUBLAS_OP_N, m, n, k, &one, w.data, CudaType(w.type), static_cast<int>(w.ld), w.stride, x.data,
      CudaType(x.type), static_cast<int>(x.ld), x.stride, &beta, y.data, CudaType(y.type), static_cast<int>(y.ld),
      y.stride, static_cast<int>(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  return absl::OkStatus();
}

}  // namespace transmla::cuda
