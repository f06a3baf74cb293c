#ifndef TRANSMLA_CORE_ENGINE_CUDA_CUDA_REFIT_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CUDA_REFIT_H_

#include <cublas_v2.h>

#include "absl/status/statusor.h"
#include "core/engine/cuda/device_buffer.h"
#include "core/engine/refit_sums.h"

namespace transmla::cuda {

// The value refit's sums (core/engine/refit_sums.h) on the GPU: per sequence, all heads at once
// through strided-batched float32 GEMMs (no TF32) and a causal softmax kernel, each sequence's
// products added into float64 sums on the device, as the CPU adds them on the host. Buffers are
// kept between calls (a conversion makes one call per balance candidate and layer).
class GpuRefit {
 public:
  GpuRefit() = default;
  GpuRefit(const GpuRefit&) = delete;
  GpuRefit& operator=(const GpuRefit&) = delete;
  ~GpuRefit();

  absl::StatusOr<RefitSums> Accumulate(const RefitProblem& problem);

 private:
  cublasHandle_t blas_ = nullptr;
  DeviceBuffer kv_b_, latents_, queries_, rope_keys_, outputs_, keys_, scores_, weighted_, gram_part_, cross_part_;
  DeviceBuffer gram_, cross_;
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CUDA_REFIT_H_
