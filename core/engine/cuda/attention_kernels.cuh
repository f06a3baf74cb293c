// Device-side tables and helpers shared by the attention plan (attention.cu) and its kernels
// (attention.cu, decode_attention_wgmma.cu, latent_attention.cu, latent_attention_wgmma.cu,
// prefill_attention.cu, prefill_attention_wgmma.cu).
#ifndef TRANSMLA_CORE_ENGINE_CUDA_ATTENTION_KERNELS_CUH_
#define TRANSMLA_CORE_ENGINE_CUDA_ATTENTION_KERNELS_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "core/engine/cuda/attention.h"
#include "core/engine/cuda/decode_splits.h"
#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

// Query items of one kv head of one slice: item k is (token k / group, head kv_head * group + k % group).
struct TileWork {
  int32_t slice, kv_head, item_begin, item_count, partial_base;
};
// One block: a tile over cache positions [kv_begin, kv_end).
struct BlockWork {
  int32_t tile, split, kv_begin, kv_end;
};

constexpr int kAttentionWarps = 8;
constexpr float kLog2e = 1.4426950408889634f;

struct KernelArgs {
  const void* q;
  const void* const* caches;
  const CacheTensorMap* cache_maps;  // per slice, for kernels that copy through them
  const AttentionSlice* slices;
  const TileWork* tiles;
  const BlockWork* blocks;
  AttentionLayout layout;
  int tile_rows;
  float* partial_out;  // [slots x value_dim]
  float* partial_max;  // log2 domain
  float* partial_sum;
  const int32_t* tile_splits;
  void* out;  // [rows x heads x value_dim]: written directly by tiles that are not split
  GpuType out_type;
};

__device__ __forceinline__ void StoreAs(void* p, GpuType t, int64_t i, float v) {
  switch (t) {
    case GpuType::kBF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v); break;
    case GpuType::kF16: static_cast<__half*>(p)[i] = __float2half(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
}

struct Item {
  int64_t row, head;
  int32_t position;
};

__device__ inline Item ItemOf(const KernelArgs& a, const TileWork& tile, int k) {
  const int64_t group = a.layout.heads / a.layout.kv_heads;
  const AttentionSlice s = a.slices[tile.slice];
  const int64_t item = tile.item_begin + k, token = item / group;
  return {s.row_begin + token, tile.kv_head * group + item % group, static_cast<int32_t>(s.start_position + token)};
}

// MLA's absorbed layout: one latent row per position is every head's key, its prefix their value.
__host__ __device__ inline bool ValueInKey(const AttentionLayout& l) {
  return l.kv_heads == 1 && l.key_head_stride == 0 && l.value_offset == 0;
}

// Where item k's value_dim outputs go: its row of `out`, or its partial slot when the tile is split.
__device__ inline int64_t OutputBase(const KernelArgs& a, const TileWork& tile, const BlockWork& block, int k) {
  const int64_t dv = a.layout.value_dim;
  if (a.tile_splits[block.tile] > 1) {
    return (tile.partial_base + static_cast<int64_t>(block.split) * tile.item_count + k) * dv;
  }
  const Item it = ItemOf(a, tile, k);
  return (it.row * a.layout.heads + it.head) * dv;
}

__device__ inline void WritePartialStats(const KernelArgs& a, const TileWork& tile, const BlockWork& block, int k,
                                  float max_log2, float sum) {
  const int64_t slot = tile.partial_base + static_cast<int64_t>(block.split) * tile.item_count + k;
  a.partial_max[slot] = max_log2;
  a.partial_sum[slot] = sum;
}

// The prompt kernels' epilogue: this lane's two query rows k_low and k_high (g and g + 8 of its
// warp's 16) in the m16n8 accumulator layout, value(j, i) being register i of 8-column tile j.
// The row's 4 lanes add their partial sums, then each writes its columns divided by the total.
template <int Dv, typename Value>
__device__ __forceinline__ void StoreNormalizedRows(const KernelArgs& a, const TileWork& tile, int k_low, int k_high,
                                                    float sum_low, float sum_high, const Value& value) {
  for (int offset = 1; offset < 4; offset *= 2) {
    sum_low += __shfl_xor_sync(0xffffffff, sum_low, offset);
    sum_high += __shfl_xor_sync(0xffffffff, sum_high, offset);
  }
  const int lane = threadIdx.x % 32;
  const int64_t dv = a.layout.value_dim;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int k = half == 0 ? k_low : k_high;
    if (k >= tile.item_count) continue;
    const Item it = ItemOf(a, tile, k);
    const int64_t base = (it.row * a.layout.heads + it.head) * dv;
    const float sum = half == 0 ? sum_low : sum_high;
    const float inv = sum > 0 ? 1.0f / sum : 0.0f;
#pragma unroll
    for (int j = 0; j < Dv / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int c = 8 * j + 2 * (lane % 4) + e;
        if (c < dv) StoreAs(a.out, a.out_type, base + c, value(j, 2 * half + e) * inv);
      }
    }
  }
}

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_ATTENTION_KERNELS_CUH_
