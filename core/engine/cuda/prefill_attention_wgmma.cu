// The prompt kernel on sm_90a warpgroup MMAs (H100/H200).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include "core/engine/cuda/attention_kernels.cuh"
#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/launch.cuh"
#include "core/engine/cuda/prefill_attention.h"
#include "core/engine/cuda/wgmma.cuh"

namespace transmla::cuda {
namespace {

// Three warpgroups of 64 query rows each. H200, 8B, one call, against two: 8K prompts GQA 32417 /
// 32183 against 31110 / 30372 tok/s, MLA 29771 / 30088 against 28309 / 28252; 2K level (GQA) or +5%
// (MLA). With two, each of a multiprocessor's four schedulers had two warps to hide the softmax's
// latency behind (ncu: issue-bound, tensor pipe 24% busy); now it has three.
constexpr int kRows = 192;
constexpr int kThreads = 2 * kRows;  // a warpgroup of 128 threads for 64 rows
constexpr int kKeys = kTileTokens;  // cache positions per stage: 64
constexpr int kStages = 3;        // two in flight while one is computed on
constexpr int kAtomBytes = kSwizzleAtomBytes;

// Operands in shared memory: [dim block of 64][rows][128 bytes], 8 rows per 128-byte swizzle atom.
__host__ __device__ constexpr int BlockBytes(int dims, int rows) { return SwizzledBlockBytes(dims, rows); }
__host__ __device__ constexpr int StageBytes(int dk, int dv) { return BlockBytes(dk, kKeys) + BlockBytes(dv, kKeys); }
__host__ __device__ constexpr int SharedBytes(int dk, int dv) {
  return kAtomBytes + BlockBytes(dk, kRows) + kStages * StageBytes(dk, dv);
}

#if TRANSMLA_WGMMA_COMPILED
template <typename T>
__device__ __forceinline__ uint32_t PackPair(float low, float high) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(low, high);
    return *reinterpret_cast<const uint32_t*>(&v);
  } else {
    const __half2 v = __floats2half2_rn(low, high);
    return *reinterpret_cast<const uint32_t*>(&v);
  }
}

template <typename Source>
__device__ __forceinline__ void CopyRows(unsigned char* dst, int rows, int valid, int dims, const Source& src) {
  CopySwizzledRows<kThreads>(dst, rows, valid, dims, threadIdx.x, src);
}
#endif

// The prefill kernel's arithmetic (see prefill_attention.cu), with each warpgroup's 64 rows of
// scores S = Q K^T from one chain of m64n64k16 wgmmas reading Q and K from shared memory, the online
// softmax in the accumulator registers, and O += P V from wgmmas taking P from registers.
template <typename T, int Dk, int Dv>
__global__ void __launch_bounds__(kThreads, 1) PrefillWgmmaKernel(KernelArgs a) {
#if TRANSMLA_WGMMA_COMPILED
  WaitForPreviousKernel();
  extern __shared__ __align__(128) unsigned char smem[];
  unsigned char* qs = smem + (kAtomBytes - SharedAddress(smem) % kAtomBytes) % kAtomBytes;
  unsigned char* stages = qs + BlockBytes(Dk, kRows);
  constexpr int kStage = StageBytes(Dk, Dv), kKeyBlock = BlockBytes(64, kKeys), kQueryBlock = BlockBytes(64, kRows);
  const BlockWork block = a.blocks[blockIdx.x];
  const TileWork tile = a.tiles[block.tile];
  const AttentionLayout& l = a.layout;
  const int warpgroup = threadIdx.x / 128, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const T* cache = static_cast<const T*>(a.caches[tile.slice]);
  const int kv_begin = block.kv_begin, kv_end = block.kv_end;
  const int64_t key_offset = tile.kv_head * l.key_head_stride;
  const int64_t value_offset = l.value_offset + tile.kv_head * l.value_head_stride;
  const int steps = kv_end > kv_begin ? (kv_end - kv_begin + kKeys - 1) / kKeys : 0;

  auto load_stage = [&](int s) {
    if (s < steps) {
      const int t0 = kv_begin + s * kKeys;
      unsigned char* k_dst = stages + (s % kStages) * kStage;
      const auto row = [&](int64_t offset) {
        return [=](int r) { return cache + static_cast<int64_t>(t0 + r) * l.token_stride + offset; };
      };
      CopyRows(k_dst, kKeys, kv_end - t0, Dk, row(key_offset));
      CopyRows(k_dst + BlockBytes(Dk, kKeys), kKeys, kv_end - t0, Dv, row(value_offset));
    }
    __pipeline_commit();
  };
  CopyRows(qs, kRows, tile.item_count, Dk, [&](int r) {
    const Item it = ItemOf(a, tile, r);
    return static_cast<const T*>(a.q) + (it.row * l.heads + it.head) * l.query_head_stride;
  });
  for (int s = 0; s < kStages - 1; ++s) load_stage(s);

  // This lane's rows (g and g + 8 of its warp's 16); rows past the items attend to position 0 only.
  const int k_low = warp * 16 + lane / 4, k_high = k_low + 8;
  const int pos_low = k_low < tile.item_count ? ItemOf(a, tile, k_low).position : 0;
  const int pos_high = k_high < tile.item_count ? ItemOf(a, tile, k_high).position : 0;
  // The warpgroup's reach (items are ordered by token, so positions grow with the row).
  const int wg_first_item = warpgroup * 64, wg_last_item = min(wg_first_item + 63, tile.item_count - 1);
  const bool wg_active = wg_first_item < tile.item_count;
  const int wg_first = wg_active ? ItemOf(a, tile, wg_first_item).position : 0;
  const int wg_last = wg_active ? ItemOf(a, tile, wg_last_item).position : -1;

  WarpgroupAccumulator<Dv> o;
  WarpgroupAccumulator<kKeys> s;
#pragma unroll
  for (int i = 0; i < Dv / 2; ++i) o.d[i] = 0;
#pragma unroll
  for (int i = 0; i < kKeys / 2; ++i) s.d[i] = 0;
  float max_low = -INFINITY, max_high = -INFINITY, sum_low = 0, sum_high = 0;
  const float scale = l.scale * kLog2e;
  const unsigned char* q_rows = qs + warpgroup * 64 * kSwizzleRowBytes;

  for (int step = 0; step < steps; ++step) {
    __pipeline_wait_prior(kStages - 2);
    FenceSharedForAsyncProxy();
    // Also: both warpgroups are done with the stage the next load overwrites.
    __syncthreads();
    load_stage(step + kStages - 1);
    const int t0 = kv_begin + step * kKeys;
    if (!wg_active || t0 > wg_last) continue;  // warpgroup-uniform
    const unsigned char* ks = stages + (step % kStages) * kStage;
    const unsigned char* vs = ks + BlockBytes(Dk, kKeys);

    WarpgroupFence();
#pragma unroll
    for (int kk = 0; kk < Dk / 16; ++kk) {
      // k steps of 16 dims advance 32 bytes within a dim block's atoms.
      Wgmma64x64<T>(s, SwizzledOperand(q_rows + kk / 4 * kQueryBlock + kk % 4 * 32, kQueryBlock, kAtomBytes),
                    SwizzledOperand(ks + kk / 4 * kKeyBlock + kk % 4 * 32, kKeyBlock, kAtomBytes), kk > 0);
    }
    WarpgroupCommit();
    WarpgroupWait<0>();
    FenceAccumulator(s);

    const bool masked = t0 + kKeys - 1 > wg_first || t0 + kKeys > kv_end;
    float tile_low = -INFINITY, tile_high = -INFINITY;  // of the raw scores (scale > 0 keeps order)
#pragma unroll
    for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        if (masked) {
          const int key = t0 + 8 * j + 2 * (lane % 4) + e;
          if (key > pos_low || key >= kv_end) s.d[4 * j + e] = -INFINITY;
          if (key > pos_high || key >= kv_end) s.d[4 * j + 2 + e] = -INFINITY;
        }
        tile_low = fmaxf(tile_low, s.d[4 * j + e]);
        tile_high = fmaxf(tile_high, s.d[4 * j + 2 + e]);
      }
    }
    for (int offset = 1; offset < 4; offset *= 2) {
      tile_low = fmaxf(tile_low, __shfl_xor_sync(0xffffffff, tile_low, offset));
      tile_high = fmaxf(tile_high, __shfl_xor_sync(0xffffffff, tile_high, offset));
    }
    const float top_low = tile_low * scale, top_high = tile_high * scale;
    // The running maxima move only when some row of the warp gains more than 2^8 on its own
    // (FlashAttention-4's conditional rescale): probabilities stay under 256, and o is rescaled in a
    // few steps instead of all. Every row sees position kv_begin = 0 in its first step, so the
    // maxima are finite from then on.
    constexpr float kRescaleLog2 = 8.0f;
    if (__any_sync(0xffffffff, top_low > max_low + kRescaleLog2 || top_high > max_high + kRescaleLog2)) {
      const float new_low = fmaxf(max_low, top_low), new_high = fmaxf(max_high, top_high);
      const float corr_low = exp2f(max_low - new_low), corr_high = exp2f(max_high - new_high);
      max_low = new_low;
      max_high = new_high;
      sum_low *= corr_low;
      sum_high *= corr_high;
#pragma unroll
      for (int j = 0; j < Dv / 8; ++j) {
        o.d[4 * j] *= corr_low;
        o.d[4 * j + 1] *= corr_low;
        o.d[4 * j + 2] *= corr_high;
        o.d[4 * j + 3] *= corr_high;
      }
    }
    float add_low = 0, add_high = 0;
#pragma unroll
    for (int j = 0; j < kKeys / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        s.d[4 * j + e] = exp2f(fmaf(s.d[4 * j + e], scale, -max_low));
        s.d[4 * j + 2 + e] = exp2f(fmaf(s.d[4 * j + 2 + e], scale, -max_high));
        add_low += s.d[4 * j + e];
        add_high += s.d[4 * j + 2 + e];
      }
    }
    sum_low += add_low;  // this lane's columns; the row's 4 lanes add up at the end
    sum_high += add_high;
    // Score tiles 2kk and 2kk + 1 are exactly the A fragment of P's 16 x 16 block kk.
    uint32_t pa[kKeys / 16][4];
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      pa[kk][0] = PackPair<T>(s.d[8 * kk], s.d[8 * kk + 1]);
      pa[kk][1] = PackPair<T>(s.d[8 * kk + 2], s.d[8 * kk + 3]);
      pa[kk][2] = PackPair<T>(s.d[8 * kk + 4], s.d[8 * kk + 5]);
      pa[kk][3] = PackPair<T>(s.d[8 * kk + 6], s.d[8 * kk + 7]);
    }
    FenceAccumulator(o);
    WarpgroupFence();
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      // V is MN-major: 16 positions are two 8-row groups; the next 64 dims sit a dim block further.
      Wgmma64xNFromRegisters<T, Dv>(o, pa[kk], SwizzledOperand(vs + kk * 2 * kAtomBytes, kKeyBlock, kAtomBytes));
    }
    WarpgroupCommit();
    WarpgroupWait<0>();
    FenceAccumulator(o);
  }
  __pipeline_wait_prior(0);

  StoreNormalizedRows<Dv>(a, tile, k_low, k_high, sum_low, sum_high,
                          [&](int j, int i) { return o.d[4 * j + i]; });
#else
  __trap();  // chosen only where sm_90a code was compiled
#endif
}

template <typename T, int Dk, int Dv>
absl::StatusOr<TensorCoreLaunch> Configure(const AttentionDeviceLimits& limits) {
  return ConfigureLaunch(reinterpret_cast<const void*>(PrefillWgmmaKernel<T, Dk, Dv>), kThreads, SharedBytes(Dk, Dv),
                         limits, kRows);
}

// Key dims in whole 128-byte swizzle atoms, value dims that one m64nNk16 covers: Llama heads of 64
// and 128, and MLA prompts of 128 + 64 key dims.
template <typename T>
absl::StatusOr<TensorCoreLaunch> ForDims(int64_t key_dim, int64_t value_dim, const AttentionDeviceLimits& limits) {
  if (key_dim == 64 && value_dim == 64) return Configure<T, 64, 64>(limits);
  if (key_dim == 128 && value_dim == 64) return Configure<T, 128, 64>(limits);
  if (key_dim == 128 && value_dim == 128) return Configure<T, 128, 128>(limits);
  if (key_dim == 192 && value_dim == 128) return Configure<T, 192, 128>(limits);
  return TensorCoreLaunch{};
}

}  // namespace

absl::StatusOr<TensorCoreLaunch> ChoosePrefillWgmma(GpuType cache_type, const AttentionLayout& layout,
                                                    const AttentionDeviceLimits& limits) {
  // 16-byte copies of every row: a row's elements must start on 8-element boundaries.
  const bool aligned = layout.query_head_stride % 8 == 0 && layout.token_stride % 8 == 0 &&
                       layout.key_head_stride % 8 == 0 && layout.value_offset % 8 == 0 &&
                       layout.value_head_stride % 8 == 0;
  if (!limits.warpgroup_mma || !aligned) return TensorCoreLaunch{};
  switch (cache_type) {
    case GpuType::kBF16: return ForDims<__nv_bfloat16>(layout.key_dim, layout.value_dim, limits);
    case GpuType::kF16: return ForDims<__half>(layout.key_dim, layout.value_dim, limits);
    default: return TensorCoreLaunch{};
  }
}

}  // namespace transmla::cuda
