#include "core/engine/cuda/latent_attention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include <cfloat>

#include "core/engine/cuda/attention_kernels.cuh"
#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/launch.cuh"
#include "core/engine/cuda/mma.cuh"
#include "core/util/status_macros.h"

namespace transmla::cuda {
namespace {

constexpr int kWarps = 8;  // H200, 8B MLA: 16 warps (8 key groups, 127 registers) decoded 6-9% slower
// Two stages of 64 cache positions (one in flight while one is computed on): H200, 4-layer 8B-wide
// MLA, one call, two runs each against four stages of 32: batch 32 x 32K 11174 / 11394 against
// 10430 / 10348 tok/s, batch 8 x 32K 5066 / 5222 against 4869 / 5053, the other cells within noise;
// five of 32, three of 32 and the pipelined variants were no better.
constexpr int kTokens = 64;
constexpr int kStages = 2;
constexpr int kKeyGroups = 4;  // warps that split the key dims of one half of a stage's scores
constexpr int kHalves = kWarps / kKeyGroups;

// Shared memory of one block, in bytes: the stages ([kTokens x Dk + 8] each; the last one first
// holds the queries), each key group's partial scores, the probabilities and three row statistics.
__host__ __device__ constexpr int LatentSharedBytes(int key_dim, int rows, int elem) {
  return elem * (kStages * kTokens * (key_dim + 8) + rows * (kTokens + 8)) +
         4 * (kKeyGroups * rows * (kTokens + 8) + 3 * rows);
}

// Warp w = (key group w / 2, token half w % 2) computes its key dims' share of the scores of its 16
// positions against all M rows, the queries' A fragments for those dims held in registers for the
// whole chunk; the groups' shares add up in the softmax. For p.v, warp w owns value columns
// [w Dv/8, (w + 1) Dv/8). Shared-memory traffic is about 4x the bytes read from memory (MLA 576/512),
// where the general kernel, reloading the queries for every score tile, needed 7x.
template <typename T, int kMTiles, int kKeySteps, int kValueDim>
__global__ void __launch_bounds__(kWarps * 32, 1) LatentAttentionKernel(KernelArgs a) {
  WaitForPreviousKernel();
  constexpr int M = 16 * kMTiles, N = kTokens, Dk = 16 * kKeySteps;
  constexpr int ldk = Dk + 8, lds = N + 8, ldp = N + 8;
  constexpr int kStepsPerGroup = (kKeySteps + kKeyGroups - 1) / kKeyGroups;
  constexpr int kHalfTokens = N / kHalves;
  constexpr int kRowsPerWarp = M / kWarps, kLanesPerRow = 32 / kRowsPerWarp, kColsPerLane = N / kLanesPerRow;
  constexpr int kColsPerWarp = kValueDim / kWarps, kValueTiles = kColsPerWarp / 8;
  constexpr int kChunksPerRow = Dk / 8;  // 16 bytes each
  static_assert(kColsPerWarp % 16 == 0 && kHalfTokens % 16 == 0 && M <= N, "unsupported tile shape");

  extern __shared__ __align__(128) unsigned char smem[];
  T* stages = reinterpret_cast<T*>(smem);
  float* partial_scores = reinterpret_cast<float*>(stages + kStages * N * ldk);  // kKeyGroups x [M x lds]
  T* probs = reinterpret_cast<T*>(partial_scores + kKeyGroups * M * lds);        // [M x ldp]
  float* row_corr = reinterpret_cast<float*>(probs + M * ldp);
  float* row_max = row_corr + M;
  float* row_sum = row_max + M;

  const BlockWork block = a.blocks[blockIdx.x];
  const TileWork tile = a.tiles[block.tile];
  const AttentionLayout& l = a.layout;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const T* cache = static_cast<const T*>(a.caches[tile.slice]);
  // Items are ordered by token, so the last one's position bounds the tile's causal reach.
  const int kv_end = min(block.kv_end, ItemOf(a, tile, tile.item_count - 1).position + 1);
  const int steps = kv_end > block.kv_begin ? (kv_end - block.kv_begin + N - 1) / N : 0;

  auto load_stage = [&](int step) {
    if (step < steps) {
      T* dst = stages + (step % kStages) * N * ldk;
      const int t0 = block.kv_begin + step * N;
      for (int i = threadIdx.x; i < N * kChunksPerRow; i += kWarps * 32) {
        const int n = i / kChunksPerRow, c = i % kChunksPerRow * 8;
        if (t0 + n < kv_end) {
          __pipeline_memcpy_async(dst + n * ldk + c, cache + static_cast<int64_t>(t0 + n) * l.token_stride + c, 16);
        } else {
          *reinterpret_cast<uint4*>(dst + n * ldk + c) = make_uint4(0, 0, 0, 0);
        }
      }
    }
    __pipeline_commit();  // empty groups too: the wait below counts groups
  };
  for (int s = 0; s < kStages - 1; ++s) load_stage(s);

  T* queries = stages + (kStages - 1) * N * ldk;
  for (int i = threadIdx.x; i < M * kChunksPerRow; i += kWarps * 32) {
    const int k = i / kChunksPerRow, c = i % kChunksPerRow * 8;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (k < tile.item_count) {
      const Item it = ItemOf(a, tile, k);
      const T* query = static_cast<const T*>(a.q) + (it.row * l.heads + it.head) * l.query_head_stride;
      v = *reinterpret_cast<const uint4*>(query + c);
    }
    *reinterpret_cast<uint4*>(queries + k * ldk + c) = v;
  }
  // This lane's softmax row (kLanesPerRow lanes per row), its position and running statistics.
  const int soft_row = warp * kRowsPerWarp + lane / kLanesPerRow, sub = lane % kLanesPerRow;
  const int soft_pos = soft_row < tile.item_count ? ItemOf(a, tile, soft_row).position : -1;
  float run_max = -FLT_MAX, run_sum = 0;
  __syncthreads();

  const int half = warp % kHalves, group = warp / kHalves;
  uint32_t qf[kMTiles][kStepsPerGroup][4];
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int s = 0; s < kStepsPerGroup; ++s) {
      const int ks = group * kStepsPerGroup + s;
      if (ks < kKeySteps) LoadA(qf[mt][s], queries + mt * 16 * ldk + ks * 16, ldk);
    }
  }
  Accumulator out[kMTiles][kValueTiles];
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int j = 0; j < kValueTiles; ++j) out[mt][j] = {{0, 0, 0, 0}};
  }
  const float scale = l.scale * kLog2e;

  for (int step = 0; step < steps; ++step) {
    __pipeline_wait_prior(kStages - 2);
    // Also: every warp is done with the stage the next load overwrites, the scores and probabilities.
    __syncthreads();
    load_stage(step + kStages - 1);
    const T* kt = stages + (step % kStages) * N * ldk;
    const int t0 = block.kv_begin + step * N;
    {
      Accumulator sc[kMTiles][kHalfTokens / 8];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
        for (int j = 0; j < kHalfTokens / 8; ++j) sc[mt][j] = {{0, 0, 0, 0}};
      }
#pragma unroll
      for (int s = 0; s < kStepsPerGroup; ++s) {
        const int ks = group * kStepsPerGroup + s;
        if (ks >= kKeySteps) break;
#pragma unroll
        for (int nt = 0; nt < kHalfTokens / 16; ++nt) {
          uint32_t kb[4];
          LoadBFromRows(kb, kt + (half * kHalfTokens + nt * 16) * ldk + ks * 16, ldk);
#pragma unroll
          for (int mt = 0; mt < kMTiles; ++mt) {
            Mma16816<T>(sc[mt][2 * nt], qf[mt][s], kb[0], kb[1]);
            Mma16816<T>(sc[mt][2 * nt + 1], qf[mt][s], kb[2], kb[3]);
          }
        }
      }
      float* dst = partial_scores + group * M * lds;
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
        for (int j = 0; j < kHalfTokens / 8; ++j) {
          float* p = dst + (mt * 16 + lane / 4) * lds + half * kHalfTokens + j * 8 + 2 * (lane % 4);
          *reinterpret_cast<float2*>(p) = make_float2(sc[mt][j].c[0], sc[mt][j].c[1]);
          *reinterpret_cast<float2*>(p + 8 * lds) = make_float2(sc[mt][j].c[2], sc[mt][j].c[3]);
        }
      }
    }
    __syncthreads();

    {
      float w[kColsPerLane];
      float tile_max = -FLT_MAX;
#pragma unroll
      for (int j = 0; j < kColsPerLane; ++j) {
        const int n = sub + kLanesPerRow * j;
        float score = 0;
#pragma unroll
        for (int g = 0; g < kKeyGroups; ++g) score += partial_scores[(g * M + soft_row) * lds + n];
        w[j] = t0 + n <= soft_pos && t0 + n < kv_end ? score * scale : -FLT_MAX;
        tile_max = fmaxf(tile_max, w[j]);
      }
#pragma unroll
      for (int offset = kLanesPerRow / 2; offset > 0; offset /= 2) {
        tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffff, tile_max, offset));
      }
      const float new_max = fmaxf(run_max, tile_max);
      const bool any = new_max > -FLT_MAX;
      float sum = 0;
#pragma unroll
      for (int j = 0; j < kColsPerLane; ++j) {
        const float e = any && w[j] > -FLT_MAX ? exp2f(w[j] - new_max) : 0.0f;
        sum += e;
        probs[soft_row * ldp + sub + kLanesPerRow * j] = static_cast<T>(e);
      }
#pragma unroll
      for (int offset = kLanesPerRow / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffff, sum, offset);
      const float corr = any ? exp2f(run_max - new_max) : 1.0f;
      run_sum = run_sum * corr + sum;
      run_max = new_max;
      if (sub == 0) row_corr[soft_row] = corr;
    }
    __syncthreads();

    ScaleTileRows(out, row_corr, lane);
#pragma unroll
    for (int kk = 0; kk < N / 16; ++kk) {
      uint32_t pa[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) LoadA(pa[mt], probs + mt * 16 * ldp + kk * 16, ldp);
#pragma unroll
      for (int j = 0; j < kValueTiles; j += 2) {
        uint32_t vb[4];
        const int col = warp * kColsPerWarp + 8 * j;
        LoadBFromColumns(vb, kt + kk * 16 * ldk, ldk, col, col + 8);
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          Mma16816<T>(out[mt][j], pa[mt], vb[0], vb[1]);
          Mma16816<T>(out[mt][j + 1], pa[mt], vb[2], vb[3]);
        }
      }
    }
  }

  if (sub == 0) {
    row_max[soft_row] = run_max;
    row_sum[soft_row] = run_sum;
  }
  __syncthreads();
  const bool split = a.tile_splits[block.tile] > 1;
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int k = mt * 16 + lane / 4 + 8 * h;
      if (k >= tile.item_count) continue;
      const int64_t base = OutputBase(a, tile, block, k);
      const float inv = split ? 1.0f : (row_sum[k] > 0 ? 1.0f / row_sum[k] : 0.0f);
#pragma unroll
      for (int j = 0; j < kValueTiles; ++j) {
        const int c = warp * kColsPerWarp + 8 * j + 2 * (lane % 4);
        const float v0 = out[mt][j].c[2 * h], v1 = out[mt][j].c[2 * h + 1];
        if (split) {
          *reinterpret_cast<float2*>(a.partial_out + base + c) = make_float2(v0, v1);
        } else {
          StoreAs(a.out, a.out_type, base + c, v0 * inv);
          StoreAs(a.out, a.out_type, base + c + 1, v1 * inv);
        }
      }
    }
  }
  if (split) {
    for (int k = threadIdx.x; k < tile.item_count; k += kWarps * 32) {
      WritePartialStats(a, tile, block, k, row_max[k], row_sum[k]);
    }
  }
}

template <typename T, int kKeySteps, int kValueDim>
absl::StatusOr<TensorCoreLaunch> Configure(int tile_rows, const AttentionDeviceLimits& limits) {
  // Tiles of 32 items (32+ heads) only: the 16-row instance (16 heads or fewer) has not run on a GPU.
  if (tile_rows != 32) return TensorCoreLaunch{};
  return ConfigureLaunch(reinterpret_cast<const void*>(LatentAttentionKernel<T, 2, kKeySteps, kValueDim>), kWarps * 32,
                         LatentSharedBytes(16 * kKeySteps, tile_rows, sizeof(T)), limits);
}

// The (latent + rope, latent) dims compiled: kv_lora_rank 512 with 64 RoPE dims (DeepSeek's,
// the 8B conversion's) and 256 with 48 (the default conversion of 1B Llamas with 64-dim heads).
template <typename T>
absl::StatusOr<TensorCoreLaunch> ForDims(const AttentionLayout& l, int tile_rows, const AttentionDeviceLimits& limits) {
  if (l.key_dim != l.token_stride) return TensorCoreLaunch{};  // each stage row is exactly one cached position
  if (l.key_dim == 576 && l.value_dim == 512) return Configure<T, 36, 512>(tile_rows, limits);
  if (l.key_dim == 304 && l.value_dim == 256) return Configure<T, 19, 256>(tile_rows, limits);
  return TensorCoreLaunch{};
}

}  // namespace

absl::StatusOr<TensorCoreLaunch> ChooseLatentAttention(GpuType cache_type, const AttentionLayout& layout,
                                                       int tile_rows, const AttentionDeviceLimits& limits) {
  if (!ValueInKey(layout)) return TensorCoreLaunch{};
  ASSIGN_OR_RETURN(const TensorCoreLaunch wgmma, ChooseLatentWgmma(cache_type, layout, tile_rows, limits));
  if (wgmma.kernel != nullptr) return wgmma;
  switch (cache_type) {
    case GpuType::kBF16: return ForDims<__nv_bfloat16>(layout, tile_rows, limits);
    case GpuType::kF16: return ForDims<__half>(layout, tile_rows, limits);
    default: return TensorCoreLaunch{};
  }
}

}  // namespace transmla::cuda
