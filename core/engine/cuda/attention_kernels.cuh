// Device-side tables shared by the attention plan (attention.cu) and its kernels.
#ifndef TRANSMLA_CORE_ENGINE_CUDA_ATTENTION_KERNELS_CUH_
#define TRANSMLA_CORE_ENGINE_CUDA_ATTENTION_KERNELS_CUH_

#include <cstdint>

namespace transmla::cuda {

// Query items of one kv head of one slice: item k is (token k / group, head kv_head * group + k % group).
struct TileWork {
  int32_t slice, kv_head, item_begin, item_count, partial_base;
};
// One block: a tile over cache positions [kv_begin, kv_end).
struct BlockWork {
  int32_t tile, split, kv_begin, kv_end;
};

constexpr int kTileTokens = 64;  // cache positions per step of the 16-bit kernel
constexpr int kAttentionWarps = 8;
constexpr int kMaxSplits = 256;  // a decoding context splits in at most this many chunks

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_ATTENTION_KERNELS_CUH_
