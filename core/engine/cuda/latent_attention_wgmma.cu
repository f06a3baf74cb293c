// MLA's absorbed decode attention on sm_90a warpgroup MMAs (H100/H200), transposed so that a tile's
// 32 heads are the MMAs' N and 64 cache positions their M: no row of the tensor cores is padding.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include <cfloat>

#include "core/engine/cuda/attention_kernels.cuh"
#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/latent_attention.h"
#include "core/engine/cuda/launch.cuh"
#include "core/engine/cuda/tensor_copy.cuh"
#include "core/engine/cuda/transposed_softmax.cuh"
#include "core/engine/cuda/wgmma.cuh"

namespace transmla::cuda {
namespace {

constexpr int kGroups = 2;  // warpgroups, each streaming every other stage of the block's chunk
constexpr int kThreads = 128 * kGroups;
constexpr int kItems = 32;                 // query items (heads) per tile: the MMAs' N
constexpr int kPositions = kTileTokens;    // cache positions per stage: the score MMAs' M
constexpr int kProbBytes = SwizzledBlockBytes(kPositions, kItems);  // P^T: [items][positions]

// Shared memory: alignment slack, the queries, one stage per warpgroup, each warpgroup's
// probabilities, its stage's barrier, its warps' column maxima (then sums), and both warpgroups'
// maxima and weights.
__host__ __device__ constexpr int SharedBytes(int dk) {
  return kSwizzleAtomBytes + SwizzledBlockBytes(dk, kItems) + kGroups * SwizzledBlockBytes(dk, kPositions) +
         kGroups * kProbBytes + 16 + 4 * (kGroups * kItems * 4 + 2 * kGroups * kItems + 2 * kItems);
}

#if TRANSMLA_WGMMA_COMPILED
// A barrier for the 128 threads of warpgroup `group` alone (barrier 0 is __syncthreads').
__device__ __forceinline__ void WarpgroupBarrier(int group) {
  asm volatile("bar.sync %0, 128;\n" ::"r"(1 + group) : "memory");
}
#endif

// Each warpgroup streams its own stages (steps group, group + 2, ...) and keeps its own online
// softmax; they merge once, at the end. Per stage: S^T = K Q^T (64 positions x 32 items, K-major
// operands from shared memory), column maxima across the warpgroup through shared memory, P^T to
// shared memory, O^T += V^T P^T (value dims as M, V read transposed from the same stage rows).
template <typename T, int Dk, int Dv>
__global__ void __launch_bounds__(kThreads, 1) LatentWgmmaKernel(KernelArgs a) {
#if TRANSMLA_WGMMA_COMPILED
  static_assert(Dk % 16 == 0 && Dv % 64 == 0 && Dv <= Dk, "unsupported dims");
  constexpr int kQueryBlock = SwizzledBlockBytes(64, kItems), kStageBlock = SwizzledBlockBytes(64, kPositions);
  constexpr int kStage = SwizzledBlockBytes(Dk, kPositions), kValueTiles = Dv / 64;
  WaitForPreviousKernel();
  extern __shared__ __align__(128) unsigned char smem[];
  unsigned char* qs = smem + (kSwizzleAtomBytes - SharedAddress(smem) % kSwizzleAtomBytes) % kSwizzleAtomBytes;
  unsigned char* stages = qs + SwizzledBlockBytes(Dk, kItems);
  unsigned char* all_probs = stages + kGroups * kStage;
  uint64_t* stage_full = reinterpret_cast<uint64_t*>(all_probs + kGroups * kProbBytes);  // [group]
  float* warp_stat = reinterpret_cast<float*>(stage_full + kGroups);  // [group][item][warp]
  float* group_max = warp_stat + kGroups * kItems * 4;                            // [group][item]
  float* group_weight = group_max + kGroups * kItems;                             // [group][item]
  float* final_sum = group_weight + kGroups * kItems;                             // [item]
  float* final_max = final_sum + kItems;                                          // [item]

  const BlockWork block = a.blocks[blockIdx.x];
  const TileWork tile = a.tiles[block.tile];
  const AttentionLayout& l = a.layout;
  const int group = threadIdx.x / 128, thread = threadIdx.x % 128, warp = thread / 32, lane = threadIdx.x % 32;
  const int t = lane % 4, g = lane / 4;
  // Items are ordered by token: the first one's position bounds where masking starts, the last one's
  // the tile's causal reach.
  const int kv_end = min(block.kv_end, ItemOf(a, tile, tile.item_count - 1).position + 1);
  const int unmasked_end = min(kv_end, ItemOf(a, tile, 0).position + 1);
  const int steps = kv_end > block.kv_begin ? (kv_end - block.kv_begin + kPositions - 1) / kPositions : 0;
  unsigned char* stage = stages + group * kStage;
  unsigned char* probs = all_probs + group * kProbBytes;
  const CacheTensorMap* map = a.cache_maps + tile.slice;
  if (threadIdx.x == 0) {
    for (int grp = 0; grp < kGroups; ++grp) InitBarrier(&stage_full[grp], 1);
    FenceBarrierInit();
  }
  if (thread == 0) AcquireTensorMap(map);
  __syncthreads();

  // One thread of the warpgroup asks for the whole stage: a tile of 64 positions per 64 key dims.
  auto load_step = [&](int step) {
    if (step < steps && thread == 0) {
      ArriveExpectingBytes(&stage_full[group], kStage);
      for (int b = 0; b < kStage / kStageBlock; ++b) {
        CopyTensorTile(stage + b * kStageBlock, map, b * kCacheTileValues, block.kv_begin + step * kPositions,
                       &stage_full[group]);
      }
    }
  };
  CopySwizzledRows<kThreads>(qs, kItems, tile.item_count, Dk, threadIdx.x, [&](int r) {
    const Item it = ItemOf(a, tile, r);
    return static_cast<const T*>(a.q) + (it.row * l.heads + it.head) * l.query_head_stride;
  });
  __pipeline_commit();
  load_step(group);

  TransposedSoftmax<kItems> softmax;
  softmax.Init([&](int item) { return item < tile.item_count ? ItemOf(a, tile, item).position : kv_end; });
  WarpgroupAccumulator<kItems> s;
  WarpgroupAccumulator<kItems> o[kValueTiles];
#pragma unroll
  for (int mt = 0; mt < kValueTiles; ++mt) {
#pragma unroll
    for (int i = 0; i < kItems / 2; ++i) o[mt].d[i] = 0;
  }
  const float scale = l.scale * kLog2e;
  // The queries were copied by both warpgroups.
  __pipeline_wait_prior(0);
  FenceSharedForAsyncProxy();
  __syncthreads();

  for (int step = group, use = 0; step < steps; step += kGroups, ++use) {
    const int t0 = block.kv_begin + step * kPositions;
    WaitBarrier(&stage_full[group], use % 2);
    if (t0 + kPositions > kv_end) {
      // Rows past the cache's end arrive as zeros; rows past this chunk's end may be stale.
      ZeroSwizzledRowsFrom<128>(stage, kStage / kStageBlock, kPositions, kv_end - t0, thread);
      FenceSharedForAsyncProxy();
      WarpgroupBarrier(group);
    }

    WarpgroupFence();
#pragma unroll
    for (int kk = 0; kk < Dk / 16; ++kk) {
      Wgmma64xN<T, false>(s, SwizzledOperand(stage + kk / 4 * kStageBlock + kk % 4 * 32, kStageBlock, kSwizzleAtomBytes),
                          SwizzledOperand(qs + kk / 4 * kQueryBlock + kk % 4 * 32, kQueryBlock, kSwizzleAtomBytes),
                          kk > 0);
    }
    WarpgroupCommit();
    WarpgroupWait<0>();
    FenceAccumulator(s);

    if (t0 + kPositions > unmasked_end) softmax.Mask(s, t0 + 16 * warp + g, kv_end);
    float* stat = warp_stat + group * kItems * 4;
    softmax.PublishMaxima(s, stat);
    WarpgroupBarrier(group);
    float correction[TransposedSoftmax<kItems>::kColumns];
    if (softmax.UpdateMaxima(stat, scale, correction)) {
#pragma unroll
      for (int mt = 0; mt < kValueTiles; ++mt) softmax.Rescale(o[mt], correction);
    }
    softmax.WriteProbabilities<T>(s, scale, probs);
    FenceSharedForAsyncProxy();
    WarpgroupBarrier(group);

#pragma unroll
    for (int mt = 0; mt < kValueTiles; ++mt) FenceAccumulator(o[mt]);
    WarpgroupFence();
#pragma unroll
    for (int mt = 0; mt < kValueTiles; ++mt) {
#pragma unroll
      for (int kk = 0; kk < kPositions / 16; ++kk) {
        // V^T is MN-major: 16 positions are two 8-row groups of value block mt.
        Wgmma64xN<T, true>(o[mt], SwizzledOperand(stage + mt * kStageBlock + kk * 2 * kSwizzleAtomBytes, kStageBlock,
                                                  kSwizzleAtomBytes),
                           SwizzledOperand(probs + kk * 32, kProbBytes, kSwizzleAtomBytes), 1);
      }
    }
    WarpgroupCommit();
    WarpgroupWait<0>();
#pragma unroll
    for (int mt = 0; mt < kValueTiles; ++mt) FenceAccumulator(o[mt]);
    WarpgroupBarrier(group);  // every warp is done with the stage before it is refilled
    load_step(step + kGroups);
  }

  // Column sums over the warpgroup, then both warpgroups' weights 2^(max - overall max).
  softmax.PublishSums(warp_stat + group * kItems * 4);
  if (warp == 0 && g == 0) {
#pragma unroll
    for (int i = 0; i < TransposedSoftmax<kItems>::kColumns; ++i) {
      group_max[group * kItems + TransposedSoftmax<kItems>::Item(i)] = softmax.run_max[i];
    }
  }
  __syncthreads();  // also: both warpgroups are done with their stages, which now hold the merge
  if (threadIdx.x < kItems) {
    const int item = threadIdx.x;
    float m = group_max[item];
    for (int grp = 1; grp < kGroups; ++grp) m = fmaxf(m, group_max[grp * kItems + item]);
    float total = 0;
    for (int grp = 0; grp < kGroups; ++grp) {
      const float mg = group_max[grp * kItems + item];
      const float weight = mg == -INFINITY ? 0.0f : exp2f(mg - m);
      const float4 part = *reinterpret_cast<const float4*>(warp_stat + (grp * kItems + item) * 4);
      group_weight[grp * kItems + item] = weight;
      total += weight * (part.x + part.y + part.z + part.w);
    }
    final_sum[item] = total;
    final_max[item] = m == -INFINITY ? -FLT_MAX : m;
  }
  __syncthreads();

  constexpr int ldm = Dv + 4;  // floats; rows 2 items apart start 8 banks apart
  float* merged = reinterpret_cast<float*>(stages);  // [items][ldm]
  for (int grp = kGroups - 1; grp >= 0; --grp) {
    if (group == grp) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int item = 8 * j + 2 * t + e;
          const float weight = group_weight[grp * kItems + item];
#pragma unroll
          for (int mt = 0; mt < kValueTiles; ++mt) {
            float* row = merged + item * ldm + mt * 64 + 16 * warp + g;
            const float v_low = o[mt].d[4 * j + e] * weight, v_high = o[mt].d[4 * j + 2 + e] * weight;
            row[0] = grp == kGroups - 1 ? v_low : row[0] + v_low;
            row[8] = grp == kGroups - 1 ? v_high : row[8] + v_high;
          }
        }
      }
    }
    __syncthreads();
  }

  const bool split = a.tile_splits[block.tile] > 1;
  for (int i = threadIdx.x; i < tile.item_count * (Dv / 4); i += kThreads) {
    const int item = i / (Dv / 4), c = i % (Dv / 4) * 4;
    const float4 v = *reinterpret_cast<const float4*>(merged + item * ldm + c);
    const int64_t base = OutputBase(a, tile, block, item);
    if (split) {
      *reinterpret_cast<float4*>(a.partial_out + base + c) = v;
    } else {
      const float inv = final_sum[item] > 0 ? 1.0f / final_sum[item] : 0.0f;
      StoreAs(a.out, a.out_type, base + c, v.x * inv);
      StoreAs(a.out, a.out_type, base + c + 1, v.y * inv);
      StoreAs(a.out, a.out_type, base + c + 2, v.z * inv);
      StoreAs(a.out, a.out_type, base + c + 3, v.w * inv);
    }
  }
  if (split && threadIdx.x < tile.item_count) {
    WritePartialStats(a, tile, block, threadIdx.x, final_max[threadIdx.x], final_sum[threadIdx.x]);
  }
#else
  __trap();  // chosen only where sm_90a code was compiled
#endif
}

template <typename T, int Dk, int Dv>
absl::StatusOr<TensorCoreLaunch> Configure(const AttentionDeviceLimits& limits) {
  static_assert(kItems * (Dv + 4) * 4 <= kGroups * SwizzledBlockBytes(Dk, kPositions), "the merge reuses the stages");
  return ConfigureTensorMapLaunch(reinterpret_cast<const void*>(LatentWgmmaKernel<T, Dk, Dv>), kThreads,
                                  SharedBytes(Dk), limits);
}

template <typename T>
absl::StatusOr<TensorCoreLaunch> ForDims(const AttentionLayout& l, const AttentionDeviceLimits& limits) {
  if (l.key_dim == 576 && l.value_dim == 512) return Configure<T, 576, 512>(limits);
  if (l.key_dim == 304 && l.value_dim == 256) return Configure<T, 304, 256>(limits);
  return TensorCoreLaunch{};
}

}  // namespace

absl::StatusOr<TensorCoreLaunch> ChooseLatentWgmma(GpuType cache_type, const AttentionLayout& layout, int tile_rows,
                                                   const AttentionDeviceLimits& limits) {
  // Rows start on 16-byte boundaries for the copies; each stage row is exactly one cached position.
  const bool aligned = layout.query_head_stride % 8 == 0 && layout.token_stride % 8 == 0;
  if (!limits.warpgroup_mma || tile_rows != kItems || !aligned || layout.key_dim != layout.token_stride) {
    return TensorCoreLaunch{};
  }
  switch (cache_type) {
    case GpuType::kBF16: return ForDims<__nv_bfloat16>(layout, limits);
    case GpuType::kF16: return ForDims<__half>(layout, limits);
    default: return TensorCoreLaunch{};
  }
}

}  // namespace transmla::cuda
