#ifndef TRANSMLA_CORE_ENGINE_CUDA_CUDA_STATUS_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CUDA_STATUS_H_

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "absl/status/status.h"

namespace transmla::cuda {

// A failed CUDA runtime call as a Status naming the call and the error; out of memory is
// ResourceExhausted, everything else Internal.
absl::Status FromCuda(cudaError_t error, const char* call);
absl::Status FromCublas(cublasStatus_t status, const char* call);

}  // namespace transmla::cuda

#define CUDA_RETURN_IF_ERROR(call)                                                      \
  do {                                                                                  \
    if (const cudaError_t transmla_cuda_error = (call); transmla_cuda_error != cudaSuccess) \
      return ::transmla::cuda::FromCuda(transmla_cuda_error, #call);                    \
  } while (0)

#define CUBLAS_RETURN_IF_ERROR(call)                                                                   \
  do {                                                                                                 \
    if (const cublasStatus_t transmla_cublas_status = (call); transmla_cublas_status != CUBLAS_STATUS_SUCCESS) \
      return ::transmla::cuda::FromCublas(transmla_cublas_status, #call);                              \
  } while (0)

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CUDA_STATUS_H_
