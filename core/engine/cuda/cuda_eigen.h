#ifndef TRANSMLA_CORE_ENGINE_CUDA_CUDA_EIGEN_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CUDA_EIGEN_H_

#include <cusolverDn.h>

#include <mutex>

#include "Eigen/Dense"
#include "absl/status/status.h"
#include "core/engine/cuda/device_buffer.h"

namespace transmla::cuda {

// Symmetric eigendecompositions in float64 on the GPU (cuSOLVER's divide-and-conquer dsyevd), for
// the conversion's joint PCA: an 8B layer's ~2000-wide moment takes about a second on 16 CPU
// cores with LAPACK. Buffers are kept between calls; concurrent calls take turns.
class GpuSymmetricEigen {
 public:
  GpuSymmetricEigen() = default;
  GpuSymmetricEigen(const GpuSymmetricEigen&) = delete;
  GpuSymmetricEigen& operator=(const GpuSymmetricEigen&) = delete;
  ~GpuSymmetricEigen();

  // Eigenvalues ascending, eigenvectors as columns; reads the lower triangle of `a`.
  absl::Status Decompose(const Eigen::MatrixXd& a, Eigen::VectorXd* values, Eigen::MatrixXd* vectors);

 private:
  std::mutex mutex_;
  cusolverDnHandle_t solver_ = nullptr;
  DeviceBuffer matrix_, values_, work_, info_;
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CUDA_EIGEN_H_
