#ifndef TRANSMLA_CORE_ENGINE_CUDA_ATTENTION_H_
#define TRANSMLA_CORE_ENGINE_CUDA_ATTENTION_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/engine/cuda/cache_tensor_map.h"
#include "core/engine/cuda/device_buffer.h"
#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

// Where keys and values sit in a layer's cache, and which query heads read them. GQA: `kv_heads`
// heads of K then V per token; MLA (absorbed): one "kv head" whose key is the [latent | k_pe] row
// and whose value is the latent prefix of that same row, read once for all query heads.
struct AttentionLayout {
  int64_t heads = 0, kv_heads = 0;
  int64_t key_dim = 0, value_dim = 0;  // as read: q.k over key_dim, output value_dim per head
  int64_t token_stride = 0;            // cache elements per token
  int64_t key_head_stride = 0;         // between kv heads' keys within a token
  int64_t value_offset = 0;            // kv head 0's value within a token
  int64_t value_head_stride = 0;
  int64_t query_head_stride = 0;       // elements per head in the query buffer ([rows x heads x stride])
  float scale = 1.0f;                  // softmax scale of q.k
};

// A sequence's share of the step: its rows in the batch and the position of its first new token.
struct AttentionSlice {
  int32_t row_begin = 0, count = 0, start_position = 0;
};

// The device's limits that plans depend on, read once per plan.
struct AttentionDeviceLimits {
  int multiprocessors = 0, shared_per_block = 0, shared_per_multiprocessor = 0;
  bool warpgroup_mma = false;  // the device runs this build's sm_90a kernels
};
// The current device's limits; fails with the CUDA call's error where an attribute cannot be read.
absl::StatusOr<AttentionDeviceLimits> CurrentDeviceLimits();
// A plan's 16-bit kernel, chosen and configured once per Build rather than per layer's Run.
struct TensorCoreLaunch {
  const void* kernel = nullptr;
  int threads = 0;
  size_t shared_bytes = 0;
  int tile_rows = 0;  // query items per tile, for the prompt kernels (which fix it); else the plan's
  bool reads_cache_maps = false;  // copies cache tiles through each slice's CacheTensorMap
};
// `kernel` with `threads` a block and `shared_bytes` of dynamic shared memory, the kernel's limit
// raised to that, taking tiles of `tile_rows` items where it fixes them; a null kernel where a block
// may not have that much on this device.
absl::StatusOr<TensorCoreLaunch> ConfigureLaunch(const void* kernel, int threads, size_t shared_bytes,
                                                 const AttentionDeviceLimits& limits, int tile_rows = 0);
// The same for a kernel that copies cache tiles through the slices' CacheTensorMaps.
absl::StatusOr<TensorCoreLaunch> ConfigureTensorMapLaunch(const void* kernel, int threads, size_t shared_bytes,
                                                          const AttentionDeviceLimits& limits);

// The blocks of one step's attention, planned once per Forward on the host and used by every layer:
// query tiles of (token, head) items sharing a kv head; a decoding sequence's context is split in
// chunks (flash-decoding) so that small batches still fill the GPU, and the chunks merged.
// float32 results do not depend on the rest of the batch; 16-bit ones may, in the last bits.
class AttentionPlan {
 public:
  absl::Status Build(const std::vector<AttentionSlice>& slices, const AttentionLayout& layout, GpuType cache_type,
                     cudaStream_t stream);

  // out [rows x heads x value_dim] (out_type) = softmax(q k^T * scale, causal) v for every row and head.
  // q: [rows x heads x query_head_stride] of the cache's type (float32 for an f32 cache).
  // caches: per slice, its layer cache (device array of pointers); cache_maps: per slice, that
  // cache's map (device array), where needs_cache_maps(), else ignored.
  absl::Status Run(const void* q, const void* const* caches, const CacheTensorMap* cache_maps, void* out,
                   GpuType out_type, cudaStream_t stream);
  // Whether Run needs the caches' tensor maps: the kernel the last Build chose copies through them.
  bool needs_cache_maps() const { return launch_.reads_cache_maps; }

  // Plans for `limits` from now on instead of the current device's (tests: the mma.sync prompt kernel
  // on a GPU that would take the warpgroup one).
  void OverrideDeviceLimits(const AttentionDeviceLimits& limits) { limits_ = limits; }
  // The 16-bit kernel the last Build chose (null for float32 caches).
  const void* kernel() const { return launch_.kernel; }

 private:
  AttentionLayout layout_;
  GpuType cache_type_ = GpuType::kF32;
  AttentionDeviceLimits limits_;
  TensorCoreLaunch launch_;
  int tile_rows_ = 0;
  int64_t blocks_ = 0, tiles_ = 0, partial_slots_ = 0;
  int combine_threads_ = 0;
  DeviceBuffer slices_, tiles_table_, blocks_table_, partial_out_, partial_max_, partial_sum_;
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_ATTENTION_H_
