// Tensor-memory-accelerator descriptors (CUtensorMap) of 16-bit caches, for kernels that copy tiles
// of 64 positions x 64 values straight into 128-byte-swizzled shared memory with one instruction
// (cp.async.bulk.tensor) instead of a 16-byte copy per thread.
#ifndef TRANSMLA_CORE_ENGINE_CUDA_CACHE_TENSOR_MAP_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CACHE_TENSOR_MAP_H_

#include <cstdint>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/engine/cuda/device_buffer.h"
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
  absl::flat_hash_map<Key, CacheTensorMap> maps_;
};

// A step's maps on the device, one per (layer, slice), layer-major. A decode loop asks for the
// same caches step after step: the table is rebuilt and uploaded only when a cache or a capacity
// changed (at batch 32 on 32 layers, 1024 lookups and 128 KB a step otherwise).
class CacheMapTable {
 public:
  // `caches` holds every layer's caches of the `capacities.size()` slices, layer after layer.
  absl::Status Update(absl::Span<void* const> caches, absl::Span<const int64_t> capacities, int64_t token_stride,
                      GpuType type);
  const CacheTensorMap* layer(int64_t l) const {
    return table_.as<const CacheTensorMap>() + l * static_cast<int64_t>(capacities_.size());
  }
  int64_t uploads() const { return uploads_; }

 private:
  CacheTensorMaps encoded_;
  DeviceBuffer table_;
  // What the table on the device was made of.
  std::vector<void*> caches_;
  std::vector<int64_t> capacities_;
  int64_t token_stride_ = 0;
  GpuType type_ = GpuType::kF32;
  int64_t uploads_ = 0;
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CACHE_TENSOR_MAP_H_
