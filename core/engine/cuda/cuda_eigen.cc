#include "core/engine/cuda/cuda_eigen.h"

#include "core/engine/cuda/cuda_status.h"
#include "fmt/format.h"

namespace transmla::cuda {
namespace {

absl::Status FromCusolver(cusolverStatus_t status, const char* call) {
  const std::string message = fmt::format("{} failed: cuSOLVER status {}", call, static_cast<int>(status));
  if (status == CUSOLVER_STATUS_ALLOC_FAILED) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

}  // namespace

#define CUSOLVER_RETURN_IF_ERROR(call)                                                    \
  do {                                                                                    \
    if (const cusolverStatus_t status = (call); status != CUSOLVER_STATUS_SUCCESS) {      \
      return FromCusolver(status, #call);                                                 \
    }                                                                                     \
  } while (0)

GpuSymmetricEigen::~GpuSymmetricEigen() {
  if (solver_ != nullptr) cusolverDnDestroy(solver_);
}

absl::Status GpuSymmetricEigen::Decompose(const Eigen::MatrixXd& a, Eigen::VectorXd* values,
                                          Eigen::MatrixXd* vectors) {
  if (a.rows() != a.cols()) return absl::InvalidArgumentError("eigendecomposition of a non-square matrix");
  const std::lock_guard<std::mutex> lock(mutex_);
  const int n = static_cast<int>(a.rows());
  values->resize(n);
  vectors->resize(n, n);
  if (n == 0) return absl::OkStatus();
  if (solver_ == nullptr) CUSOLVER_RETURN_IF_ERROR(cusolverDnCreate(&solver_));
  const size_t bytes = static_cast<size_t>(n) * n * sizeof(double);
  RETURN_IF_ERROR(matrix_.Upload(a.data(), bytes));  // Eigen's default storage is column-major, as cuSOLVER's
  RETURN_IF_ERROR(values_.Reserve(static_cast<size_t>(n) * sizeof(double)));
  RETURN_IF_ERROR(info_.Reserve(sizeof(int)));
  int work = 0;
  CUSOLVER_RETURN_IF_ERROR(cusolverDnDsyevd_bufferSize(solver_, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n,
                                                       matrix_.as<double>(), n, values_.as<double>(), &work));
  RETURN_IF_ERROR(work_.Reserve(static_cast<size_t>(work) * sizeof(double)));
  CUSOLVER_RETURN_IF_ERROR(cusolverDnDsyevd(solver_, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n,
                                            matrix_.as<double>(), n, values_.as<double>(), work_.as<double>(), work,
                                            info_.as<int>()));
  int info = 0;
  CUDA_RETURN_IF_ERROR(cudaMemcpy(&info, info_.get(), sizeof(int), cudaMemcpyDeviceToHost));
  if (info != 0) return absl::InternalError(fmt::format("cusolverDnDsyevd did not converge (info {})", info));
  CUDA_RETURN_IF_ERROR(cudaMemcpy(values->data(), values_.get(), static_cast<size_t>(n) * sizeof(double),
                                  cudaMemcpyDeviceToHost));
  CUDA_RETURN_IF_ERROR(cudaMemcpy(vectors->data(), matrix_.get(), bytes, cudaMemcpyDeviceToHost));
  return absl::OkStatus();
}

}  // namespace transmla::cuda
