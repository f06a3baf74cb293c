#include "core/engine/cuda/cuda_status.h"

#include "fmt/format.h"

namespace transmla::cuda {

absl::Status FromCuda(cudaError_t error, const char* call) {
  const std::string message = fmt::format("{} failed: {} ({})", call, cudaGetErrorName(error), cudaGetErrorString(error));
  if (error == cudaErrorMemoryAllocation) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

absl::Status FromCublas(cublasStatus_t status, const char* call) {
  const std::string message = fmt::format("{} failed: {}", call, cublasGetStatusName(status));
  if (status == CUBLAS_STATUS_ALLOC_FAILED) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

}  // namespace transmla::cuda
