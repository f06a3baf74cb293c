// Tensor-memory-accelerator descriptors (CUtensorMap) of 16-bit caches, for kernels that copy tiles
// of 64 positions x 64 values straight into 128-byte-swizzled shared memory with one instruction
// (cp.async.bulk.tensor) instead of a 16-byte copy per thread.
#ifndef TRANSMLA_CORE_ENGINE_CUDA_CACHE_TENSOR_MAP_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CACHE_TENSOR_MAP_H_

#include <cstdint>
#include <map>
#include <tuple>

#include "absl/status/statusor.h"
#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

constexpr int kCacheTileValues = 64, kCacheTilePositions = 64;  // one tile: 64 positions x 128 bytes

// A CUtensorMap's bytes (the driver's header stays out of this one).
struct alignas(128) CacheTensorMap {
  unsigned char bytes[128];
};

// The map of a [positions x token_stride] cache of `type` (BF16 or F16) at device address `cache`:
// tiles of kCacheTilePositions rows and kCacheTileValues values, rows past `positions` and values
// past `token_stride` read as zeros.
absl::StatusOr<CacheTensorMap> EncodeCacheTensorMap(const void* cache, int64_t positions, int64_t token_stride,
                                                    GpuType type);

// Maps already encoded, by everything they depend on: a cache keeps its map until it grows.
class CacheTensorMaps {
 public:
  absl::StatusOr<CacheTensorMap> Get(const void* cache, int64_t positions, int64_t token_stride, GpuType type);

 private:
  using Key = std::tuple<const void*, int64_t, int64_t, GpuType>;
  std::map<Key, CacheTensorMap> maps_;
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CACHE_TENSOR_MAP_H_
