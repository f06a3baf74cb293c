// GQA/MHA decode attention on sm_90a warpgroup MMAs (H100/H200), transposed so that 64 cache
// positions are the score MMAs' M and a tile's (at most 16) query items their N, and fed by the
// tensor memory accelerator: one thread asks for a stage's key and value tiles, where the general
// kernel's 256 threads issue 2048 16-byte cp.async copies a stage (head dim 128).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include <cfloat>

#include "core/engine/cuda/attention_kernels.cuh"
#include "core/engine/cuda/decode_attention.h"
#include "core/engine/cuda/launch.cuh"
#include "core/engine/cuda/tensor_copy.cuh"
#include "core/engine/cuda/transposed_softmax.cuh"
#include "core/engine/cuda/wgmma.cuh"

namespace transmla::cuda {
namespace {

constexpr int kThreads = 128;             // one warpgroup
constexpr int kItems = 16;                // query items per tile: the MMAs' N
constexpr int kPositions = kTileTokens;   // cache positions per stage: the score MMAs' M
constexpr int kTileBytes = SwizzledBlockBytes(kCacheTileValues, kPositions);  // one copied tile
constexpr int kQueryBlock = SwizzledBlockBytes(64, kItems);
constexpr int kProbBytes = SwizzledBlockBytes(kPositions, kItems);  // P^T: [items][positions]

// A stage: the key's D / 64 tiles, then the value's.
__host__ __device__ constexpr int StageBytes(int d) { return 2 * (d / 64) * kTileBytes; }
// About 96 KB of stages, so that two blocks share a multiprocessor.
__host__ __device__ constexpr int Stages(int d) { return 3 * 128 / d; }

// Alignment slack, the queries, the stages, the probabilities, the warps' column maxima (then
// sums; read as float4), and one barrier a stage.
__host__ __device__ constexpr int SharedBytes(int d) {
  return kSwizzleAtomBytes + (d / 64) * kQueryBlock + Stages(d) * StageBytes(d) + kProbBytes + 4 * kItems * 4 +
         8 * Stages(d);
}

// Per stage: S^T = K Q^T (64 positions x 16 items), the online softmax over its columns
// (TransposedSoftmax: column maxima across the warps through shared memory, P^T to shared memory),
// O^T += V^T P^T (value dims as M, V read transposed from the stage).
// The stage's slot is refilled with the stage kStages ahead once every warp is done with it.
template <typename T, int D>
__global__ void __launch_bounds__(kThreads) DecodeWgmmaKernel(KernelArgs a) {
#if TRANSMLA_WGMMA_COMPILED
  static_assert(D == 64 || D == 128, "unsupported head dim");
  constexpr int kBlocks = D / 64, kStages = Stages(D), kStageBytes = StageBytes(D);
  WaitForPreviousKernel();
  extern __shared__ __align__(128) unsigned char smem[];
  unsigned char* qs = smem + (kSwizzleAtomBytes - SharedAddress(smem) % kSwizzleAtomBytes) % kSwizzleAtomBytes;
  unsigned char* stages = qs + kBlocks * kQueryBlock;
  unsigned char* probs = stages + kStages * kStageBytes;
  float* warp_stat = reinterpret_cast<float*>(probs + kProbBytes);             // [item][warp]
  uint64_t* stage_full = reinterpret_cast<uint64_t*>(warp_stat + kItems * 4);  // [stage]

  const BlockWork block = a.blocks[blockIdx.x];
  const TileWork tile = a.tiles[block.tile];
  const AttentionLayout& l = a.layout;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, t = lane % 4, g = lane / 4;
  // Items are ordered by token: the first one's position bounds where masking starts, the last one's
  // the tile's causal reach.
  const int kv_end = min(block.kv_end, ItemOf(a, tile, tile.item_count - 1).position + 1);
  const int unmasked_end = min(kv_end, ItemOf(a, tile, 0).position + 1);
  const int steps = kv_end > block.kv_begin ? (kv_end - block.kv_begin + kPositions - 1) / kPositions : 0;
  const CacheTensorMap* map = a.cache_maps + tile.slice;
  const int key_x = static_cast<int>(tile.kv_head * l.key_head_stride);
  const int value_x = static_cast<int>(l.value_offset + tile.kv_head * l.value_head_stride);
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) InitBarrier(&stage_full[s], 1);
    FenceBarrierInit();
    AcquireTensorMap(map);
  }
  __syncthreads();

  auto load_step = [&](int step) {
    if (step < steps && threadIdx.x == 0) {
      unsigned char* stage = stages + step % kStages * kStageBytes;
      uint64_t* full = &stage_full[step % kStages];
      const int position = block.kv_begin + step * kPositions;
      ArriveExpectingBytes(full, kStageBytes);
      for (int b = 0; b < kBlocks; ++b) {
        CopyTensorTile(stage + b * kTileBytes, map, key_x + b * kCacheTileValues, position, full);
        CopyTensorTile(stage + (kBlocks + b) * kTileBytes, map, value_x + b * kCacheTileValues, position, full);
      }
    }
  };
  for (int s = 0; s < kStages; ++s) load_step(s);
  CopySwizzledRows<kThreads>(qs, kItems, tile.item_count, D, threadIdx.x, [&](int r) {
    const Item it = ItemOf(a, tile, r);
    return static_cast<const T*>(a.q) + (it.row * l.heads + it.head) * l.query_head_stride;
  });
  __pipeline_commit();

  TransposedSoftmax<kItems> softmax;
  softmax.Init([&](int item) { return item < tile.item_count ? ItemOf(a, tile, item).position : kv_end; });
  WarpgroupAccumulator<kItems> s;
  WarpgroupAccumulator<kItems> o[kBlocks];
#pragma unroll
  for (int mt = 0; mt < kBlocks; ++mt) {
#pragma unroll
    for (int i = 0; i < kItems / 2; ++i) o[mt].d[i] = 0;
  }
  const float scale = l.scale * kLog2e;
  __pipeline_wait_prior(0);
  FenceSharedForAsyncProxy();
  __syncthreads();

  for (int step = 0; step < steps; ++step) {
    const int t0 = block.kv_begin + step * kPositions;
    unsigned char* stage = stages + step % kStages * kStageBytes;
    WaitBarrier(&stage_full[step % kStages], (step / kStages) % 2);
    if (t0 + kPositions > kv_end) {
      // Rows past the cache's end arrive as zeros; rows past this chunk's end may be stale.
      ZeroSwizzledRowsFrom<kThreads>(stage, 2 * kBlocks, kPositions, kv_end - t0, threadIdx.x);
      FenceSharedForAsyncProxy();
      __syncthreads();
    }

    WarpgroupFence();
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      Wgmma64xN<T, false>(s, SwizzledOperand(stage + kk / 4 * kTileBytes + kk % 4 * 32, kTileBytes, kSwizzleAtomBytes),
                          SwizzledOperand(qs + kk / 4 * kQueryBlock + kk % 4 * 32, kQueryBlock, kSwizzleAtomBytes),
                          kk > 0);
    }
    WarpgroupCommit();
    WarpgroupWait<0>();
    FenceAccumulator(s);

    if (t0 + kPositions > unmasked_end) softmax.Mask(s, t0 + 16 * warp + g, kv_end);
    softmax.PublishMaxima(s, warp_stat);
    __syncthreads();
    float correction[TransposedSoftmax<kItems>::kColumns];
    if (softmax.UpdateMaxima(warp_stat, scale, correction)) {
#pragma unroll
      for (int mt = 0; mt < kBlocks; ++mt) softmax.Rescale(o[mt], correction);
    }
    softmax.WriteProbabilities<T>(s, scale, probs);
    FenceSharedForAsyncProxy();
    __syncthreads();

#pragma unroll
    for (int mt = 0; mt < kBlocks; ++mt) FenceAccumulator(o[mt]);
    WarpgroupFence();
#pragma unroll
    for (int mt = 0; mt < kBlocks; ++mt) {
#pragma unroll
      for (int kk = 0; kk < kPositions / 16; ++kk) {
        // V^T is MN-major: 16 positions are two 8-row groups of value tile mt.
        Wgmma64xN<T, true>(o[mt], SwizzledOperand(stage + (kBlocks + mt) * kTileBytes + kk * 2 * kSwizzleAtomBytes,
                                                  kTileBytes, kSwizzleAtomBytes),
                           SwizzledOperand(probs + kk * 32, kProbBytes, kSwizzleAtomBytes), 1);
      }
    }
    WarpgroupCommit();
    WarpgroupWait<0>();
#pragma unroll
    for (int mt = 0; mt < kBlocks; ++mt) FenceAccumulator(o[mt]);
    __syncthreads();  // every warp is done with the stage and the probabilities
    load_step(step + kStages);
  }

  softmax.PublishSums(warp_stat);
  __syncthreads();

  const bool split = a.tile_splits[block.tile] > 1;
#pragma unroll
  for (int j = 0; j < 2; ++j) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int item = 8 * j + 2 * t + e;
      if (item >= tile.item_count) continue;
      const float4 part = *reinterpret_cast<const float4*>(warp_stat + item * 4);
      const float sum = part.x + part.y + part.z + part.w;
      const int64_t base = OutputBase(a, tile, block, item);
#pragma unroll
      for (int mt = 0; mt < kBlocks; ++mt) {
        const int c = mt * 64 + 16 * warp + g;
        const float v_low = o[mt].d[4 * j + e], v_high = o[mt].d[4 * j + 2 + e];
        if (split) {
          a.partial_out[base + c] = v_low;
          a.partial_out[base + c + 8] = v_high;
        } else {
          const float inv = sum > 0 ? 1.0f / sum : 0.0f;
          StoreAs(a.out, a.out_type, base + c, v_low * inv);
          StoreAs(a.out, a.out_type, base + c + 8, v_high * inv);
        }
      }
      if (split && warp == 0 && g == 0) {
        const float m = softmax.run_max[2 * j + e];
        WritePartialStats(a, tile, block, item, m == -INFINITY ? -FLT_MAX : m, sum);
      }
    }
  }
#else
  __trap();  // chosen only where sm_90a code was compiled
#endif
}

template <typename T, int D>
absl::StatusOr<TensorCoreLaunch> Configure(const AttentionDeviceLimits& limits) {
  return ConfigureTensorMapLaunch(reinterpret_cast<const void*>(DecodeWgmmaKernel<T, D>), kThreads, SharedBytes(D),
                                  limits);
}

template <typename T>
absl::StatusOr<TensorCoreLaunch> ForDims(const AttentionLayout& l, const AttentionDeviceLimits& limits) {
  if (l.key_dim == 128) return Configure<T, 128>(limits);
  if (l.key_dim == 64) return Configure<T, 64>(limits);
  return TensorCoreLaunch{};
}

}  // namespace

absl::StatusOr<TensorCoreLaunch> ChooseDecodeWgmma(GpuType cache_type, const AttentionLayout& layout, int tile_rows,
                                                   const AttentionDeviceLimits& limits) {
  // Rows start on 16-byte boundaries for the query copies; the tensor map's tiles start anywhere
  // within a token, but its rows must be 16-byte multiples.
  const bool aligned = layout.query_head_stride % 8 == 0 && layout.token_stride % 8 == 0;
  if (!limits.warpgroup_mma || tile_rows != kItems || !aligned || ValueInKey(layout) ||
      layout.key_dim != layout.value_dim) {
    return TensorCoreLaunch{};
  }
  switch (cache_type) {
    case GpuType::kBF16: return ForDims<__nv_bfloat16>(layout, limits);
    case GpuType::kF16: return ForDims<__half>(layout, limits);
    default: return TensorCoreLaunch{};
  }
}

}  // namespace transmla::cuda
