// sm_90 tensor-memory-accelerator copies (PTX "cp.async.bulk.tensor"): one thread asks for a whole
// tile of a CacheTensorMap's tensor, which lands in shared memory (swizzled as the map says) and
// completes on a shared-memory barrier that the consumers wait on.
#ifndef TRANSMLA_CORE_ENGINE_CUDA_TENSOR_COPY_CUH_
#define TRANSMLA_CORE_ENGINE_CUDA_TENSOR_COPY_CUH_

#include <cstdint>

#include "core/engine/cuda/cache_tensor_map.h"
#include "core/engine/cuda/mma.cuh"

namespace transmla::cuda {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
// A barrier that completes once `arrivals` threads have arrived and the bytes they announced landed.
__device__ __forceinline__ void InitBarrier(uint64_t* barrier, int arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(SharedAddress(barrier)), "r"(arrivals) : "memory");
}

// Makes initialized barriers visible to the copy engine (then a block barrier to the other threads).
__device__ __forceinline__ void FenceBarrierInit() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

// This thread's arrival, announcing `bytes` that copies will deliver before the phase completes.
__device__ __forceinline__ void ArriveExpectingBytes(uint64_t* barrier, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(SharedAddress(barrier)), "r"(bytes)
               : "memory");
}

// Waits until the barrier's phase of parity `parity` (0 for its first, 1 for its second, ...) completed.
__device__ __forceinline__ void WaitBarrier(uint64_t* barrier, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done)
                 : "r"(SharedAddress(barrier)), "r"(parity)
                 : "memory");
  } while (done == 0);
}

// The map was written by a host copy before this kernel: order the copy engine's reads of it after.
__device__ __forceinline__ void AcquireTensorMap(const CacheTensorMap* map) {
  asm volatile("fence.proxy.tensormap::generic.acquire.gpu [%0], 128;\n" ::"l"(map) : "memory");
}

// The map's tile at (value `value`, position `position`) into `dst` (1024-byte aligned), on `barrier`.
__device__ __forceinline__ void CopyTensorTile(void* dst, const CacheTensorMap* map, int value, int position,
                                               uint64_t* barrier) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          SharedAddress(dst)),
      "l"(map), "r"(value), "r"(position), "r"(SharedAddress(barrier))
      : "memory");
}
#endif

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_TENSOR_COPY_CUH_
