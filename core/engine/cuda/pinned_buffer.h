#ifndef TRANSMLA_CORE_ENGINE_CUDA_PINNED_BUFFER_H_
#define TRANSMLA_CORE_ENGINE_CUDA_PINNED_BUFFER_H_

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "absl/status/status.h"
#include "core/engine/cuda/cuda_status.h"

namespace transmla::cuda {

// Page-locked host memory, grown as needed: device-to-host copies into it run at full bus speed
// (pageable copies go through the driver's own staging at a fraction of that).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { cudaFreeHost(data_); }

  absl::Status Reserve(size_t bytes) {
    if (bytes <= bytes_) return absl::OkStatus();
    cudaFreeHost(std::exchange(data_, nullptr));
    bytes_ = 0;
    if (const cudaError_t error = cudaMallocHost(&data_, bytes); error != cudaSuccess) {
      cudaGetLastError();
      return FromCuda(error, "cudaMallocHost");
    }
    bytes_ = bytes;
    return absl::OkStatus();
  }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_PINNED_BUFFER_H_
