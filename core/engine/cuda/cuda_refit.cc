#include "core/engine/cuda/cuda_refit.h"

#include <vector>

#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/kernels.h"
#include "core/util/status_macros.h"

namespace transmla::cuda {
namespace {

constexpr cudaStream_t kStream = nullptr;

// A row-major float32 operand of a batched product: matrix b at data + b * stride.
struct Operand32 {
  const float* data;
  int64_t ld, stride;
  bool transposed;
};

// C = op(A) op(B) ([m x n], row-major, ldc), `batch` times. Row-major C = A B is column-major
// C^T = B^T A^T: cuBLAS gets the operands swapped, each with its own op.
absl::Status BatchedProduct(cublasHandle_t blas, int64_t m, int64_t n, int64_t k, Operand32 a, Operand32 b, float* c,
                            int64_t ldc, int64_t stride_c, int64_t batch, float beta) {
  const float one = 1.0f;
  CUBLAS_RETURN_IF_ERROR(cublasSgemmStridedBatched(
      blas, b.transposed ? CUBLAS_OP_T : CUBLAS_OP_N, a.transposed ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
      static_cast<int>(m), static_cast<int>(k), &one, b.data, static_cast<int>(b.ld), b.stride, a.data,
      static_cast<int>(a.ld), a.stride, &beta, c, static_cast<int>(ldc), stride_c, static_cast<int>(batch)));
  return absl::OkStatus();
}

size_t FloatBytes(int64_t count) { return static_cast<size_t>(count) * sizeof(float); }

absl::Status Upload(const cpu::Mat& m, DeviceBuffer* out) {
  return out->Upload(m.data(), FloatBytes(m.size()), kStream);
}

}  // namespace

GpuRefit::~GpuRefit() {
  if (blas_ != nullptr) cublasDestroy(blas_);
}

absl::StatusOr<RefitSums> GpuRefit::Accumulate(const RefitProblem& p) {
  if (blas_ == nullptr) {
    CUBLAS_RETURN_IF_ERROR(cublasCreate(&blas_));
    CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));  // float32 products, no TF32
  }
  const int64_t heads = p.heads, rank = p.rank, nope = p.nope, rope = p.rope, v = p.value_dim, qk = nope + rope;
  const size_t gram_values = static_cast<size_t>(heads * rank * rank), cross_values = static_cast<size_t>(heads * v * rank);
  RETURN_IF_ERROR(Upload(*p.kv_b, &kv_b_));
  RETURN_IF_ERROR(gram_.Reserve(gram_values * sizeof(double)));
  RETURN_IF_ERROR(cross_.Reserve(cross_values * sizeof(double)));
  CUDA_RETURN_IF_ERROR(cudaMemsetAsync(gram_.get(), 0, gram_values * sizeof(double), kStream));
  CUDA_RETURN_IF_ERROR(cudaMemsetAsync(cross_.get(), 0, cross_values * sizeof(double), kStream));
  RETURN_IF_ERROR(gram_part_.Reserve(FloatBytes(heads * rank * rank)));
  RETURN_IF_ERROR(cross_part_.Reserve(FloatBytes(heads * v * rank)));
  for (size_t i = 0; i < p.latents.size(); ++i) {
    const int64_t n = p.latents[i]->rows();
    RETURN_IF_ERROR(Upload(*p.latents[i], &latents_));
    RETURN_IF_ERROR(Upload(*p.queries[i], &queries_));
    RETURN_IF_ERROR(Upload(*p.rope_keys[i], &rope_keys_));
    RETURN_IF_ERROR(Upload(*p.outputs[i], &outputs_));
    RETURN_IF_ERROR(keys_.Reserve(FloatBytes(heads * n * nope)));
    RETURN_IF_ERROR(scores_.Reserve(FloatBytes(heads * n * n)));
    RETURN_IF_ERROR(weighted_.Reserve(FloatBytes(heads * n * rank)));
    const Operand32 latents{latents_.f(), rank, 0, false};
    // Scores per head: q_nope (c W_h^T)^T + q_rope k_rope^T.
    if (nope > 0) {
      RETURN_IF_ERROR(BatchedProduct(blas_, n, nope, rank, latents, {kv_b_.f(), rank, (nope + v) * rank, true},
                                     keys_.f(), nope, n * nope, heads, 0.0f));
      RETURN_IF_ERROR(BatchedProduct(blas_, n, n, nope, {queries_.f(), heads * qk, qk, false},
                                     {keys_.f(), nope, n * nope, true}, scores_.f(), n, n * n, heads, 0.0f));
    }
    if (rope > 0) {
      RETURN_IF_ERROR(BatchedProduct(blas_, n, n, rope, {queries_.f() + nope, heads * qk, qk, false},
                                     {rope_keys_.f(), rope, 0, true}, scores_.f(), n, n * n, heads,
                                     nope > 0 ? 1.0f : 0.0f));
    }
    if (qk == 0) CUDA_RETURN_IF_ERROR(cudaMemsetAsync(scores_.get(), 0, FloatBytes(heads * n * n), kStream));
    CausalSoftmaxRows(scores_.f(), heads * n, n, p.scale, kStream);
    // m = P c, then m^T m and o^T m.
    RETURN_IF_ERROR(BatchedProduct(blas_, n, rank, n, {scores_.f(), n, n * n, false}, latents, weighted_.f(), rank,
                                   n * rank, heads, 0.0f));
    const Operand32 weighted{weighted_.f(), rank, n * rank, false};
    RETURN_IF_ERROR(BatchedProduct(blas_, rank, rank, n, {weighted_.f(), rank, n * rank, true}, weighted,
                                   gram_part_.f(), rank, rank * rank, heads, 0.0f));
    RETURN_IF_ERROR(BatchedProduct(blas_, v, rank, n, {outputs_.f(), heads * v, v, true}, weighted, cross_part_.f(),
                                   rank, v * rank, heads, 0.0f));
    AddToDouble(gram_part_.f(), static_cast<int64_t>(gram_values), gram_.as<double>(), kStream);
    AddToDouble(cross_part_.f(), static_cast<int64_t>(cross_values), cross_.as<double>(), kStream);
    CUDA_RETURN_IF_ERROR(cudaGetLastError());
  }
  std::vector<double> gram(gram_values), cross(cross_values);
  CUDA_RETURN_IF_ERROR(cudaMemcpy(gram.data(), gram_.get(), gram_values * sizeof(double), cudaMemcpyDeviceToHost));
  CUDA_RETURN_IF_ERROR(cudaMemcpy(cross.data(), cross_.get(), cross_values * sizeof(double), cudaMemcpyDeviceToHost));
  using RowMajorD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RefitSums sums;
  for (int64_t h = 0; h < heads; ++h) {
    sums.gram.push_back(Eigen::Map<const RowMajorD>(gram.data() + h * rank * rank, rank, rank));
    sums.cross.push_back(Eigen::Map<const RowMajorD>(cross.data() + h * v * rank, v, rank));
  }
  return sums;
}

}  // namespace transmla::cuda
