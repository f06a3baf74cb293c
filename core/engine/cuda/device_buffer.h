#ifndef TRANSMLA_CORE_ENGINE_CUDA_DEVICE_BUFFER_H_
#define TRANSMLA_CORE_ENGINE_CUDA_DEVICE_BUFFER_H_

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "absl/status/status.h"
#include "core/engine/cuda/cuda_status.h"
#include "core/util/status_macros.h"

namespace transmla::cuda {

// Device memory, freed with its owner.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  ~DeviceBuffer() { cudaFree(data_); }

  // Grows to at least `bytes`; the old contents are kept when `keep`, new bytes are zero.
  absl::Status Reserve(size_t bytes, bool keep = false) {
    if (bytes <= bytes_) return absl::OkStatus();
    void* fresh = nullptr;
    if (const cudaError_t error = cudaMalloc(&fresh, bytes); error != cudaSuccess) {
      cudaGetLastError();  // a failed allocation must not fail the next kernel check too
      return FromCuda(error, "cudaMalloc");
    }
    CUDA_RETURN_IF_ERROR(cudaMemset(fresh, 0, bytes));
    if (keep && bytes_ > 0) CUDA_RETURN_IF_ERROR(cudaMemcpy(fresh, data_, bytes_, cudaMemcpyDeviceToDevice));
    cudaFree(data_);
    data_ = fresh;
    bytes_ = bytes;
    return absl::OkStatus();
  }
  absl::Status Upload(const void* host, size_t bytes, cudaStream_t stream = nullptr) {
    RETURN_IF_ERROR(Reserve(bytes));
    CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(data_, host, bytes, cudaMemcpyHostToDevice, stream));
    return absl::OkStatus();
  }
  void Free() {
    cudaFree(std::exchange(data_, nullptr));
    bytes_ = 0;
  }
  void* get() const { return data_; }
  float* f() const { return static_cast<float*>(data_); }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_DEVICE_BUFFER_H_
