// How a step's attention tiles split their cache positions into blocks (flash-decoding), and how
// many threads merge the splits: the policy measured on the H200, kept apart from the kernels so
// that it is checked without a GPU.
#ifndef TRANSMLA_CORE_ENGINE_CUDA_DECODE_SPLITS_H_
#define TRANSMLA_CORE_ENGINE_CUDA_DECODE_SPLITS_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"

namespace transmla::cuda {

constexpr int kTileTokens = 64;  // cache positions per step of the 16-bit kernel; chunks are multiples of it
constexpr int kMaxSplits = 256;  // a decoding context splits in at most this many chunks

// One query tile: the cache positions it attends to, and whether it decodes (one new token).
struct TileReach {
  int64_t positions = 0;
  bool decoding = false;
};

// Positions per block for each tile, in order: a multiple of kTileTokens, covering a prompt tile
// whole. `sixteen_bit`: 16-bit caches (float32 results must not depend on the batch).
// `resident_blocks` (how many of the kernel's blocks the GPU holds at once) is called only where the
// policy needs it.
absl::StatusOr<std::vector<int64_t>> PlanChunks(const std::vector<TileReach>& tiles, bool sixteen_bit,
                                                const std::function<absl::StatusOr<int64_t>()>& resident_blocks);

constexpr int kMaxMergeThreads = 512;

// Threads of the split merge's blocks (one per tile and item) for `value_dim` columns when the
// plan's tiles split in at most `max_splits` chunks: one pass over the columns (4 a thread where
// value_dim allows) times one group of threads for every 16 splits, at most kMaxMergeThreads and at
// least a warp.
int MergeThreads(int64_t value_dim, int64_t max_splits);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_DECODE_SPLITS_H_
