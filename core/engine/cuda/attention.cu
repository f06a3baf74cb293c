#include "core/engine/cuda/attention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include <algorithm>
#include <cfloat>

#include "core/engine/cuda/attention_kernels.cuh"
#include "core/engine/cuda/decode_attention.h"
#include "core/engine/cuda/decode_splits.h"
#include "core/engine/cuda/launch.cuh"
#include "core/engine/cuda/latent_attention.h"
#include "core/engine/cuda/mma.cuh"
#include "core/engine/cuda/prefill_attention.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cuda {
namespace {

// One warp's result for item k from its share `acc` (dims lane + 32 j): the normalized output when
// the tile is not split, else its partial.
template <int kPerLane>
__device__ void WriteResult(const KernelArgs& a, const TileWork& tile, const BlockWork& block, int k,
                            const float (&acc)[kPerLane], float max_log2, float sum) {
  const int lane = threadIdx.x % 32;
  const int64_t dv = a.layout.value_dim;
  const bool split = a.tile_splits[block.tile] > 1;
  const int64_t base = OutputBase(a, tile, block, k);
  const float scale = split ? 1.0f : (sum > 0 ? 1.0f / sum : 0.0f);
  for (int j = 0; j < kPerLane; ++j) {
    const int c = lane + 32 * j;
    if (c >= dv) continue;
    if (split) {
      a.partial_out[base + c] = acc[j];
    } else {
      StoreAs(a.out, a.out_type, base + c, acc[j] * scale);
    }
  }
  if (split && lane == 0) WritePartialStats(a, tile, block, k, max_log2, sum);
}

// float32 caches: one warp per item, lanes split the dims, an online softmax over the block's
// positions (no score matrix anywhere).
template <int kPerLane>
__global__ void __launch_bounds__(kAttentionWarps * 32) WarpAttentionKernel(KernelArgs a) {
  WaitForPreviousKernel();
  const BlockWork block = a.blocks[blockIdx.x];
  const TileWork tile = a.tiles[block.tile];
  const int lane = threadIdx.x % 32;
  const AttentionLayout& l = a.layout;
  const float* cache = static_cast<const float*>(a.caches[tile.slice]);
  for (int k = threadIdx.x / 32; k < tile.item_count; k += kAttentionWarps) {
    const Item it = ItemOf(a, tile, k);
    const float* query = static_cast<const float*>(a.q) + (it.row * l.heads + it.head) * l.query_head_stride;
    float qv[kPerLane], acc[kPerLane];
    for (int j = 0; j < kPerLane; ++j) {
      const int c = lane + 32 * j;
      qv[j] = c < l.key_dim ? query[c] * l.scale * kLog2e : 0.0f;
      acc[j] = 0;
    }
    float running_max = -FLT_MAX, running_sum = 0;
    const int end = min(block.kv_end, it.position + 1);
    for (int t = block.kv_begin; t < end; ++t) {
      const float* key = cache + static_cast<int64_t>(t) * l.token_stride + tile.kv_head * l.key_head_stride;
      float dot = 0;
      for (int j = 0; j < kPerLane; ++j) {
        const int c = lane + 32 * j;
        if (c < l.key_dim) dot += qv[j] * key[c];
      }
      for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffff, dot, offset);
      const float new_max = fmaxf(running_max, dot);
      const float correction = exp2f(running_max - new_max), weight = exp2f(dot - new_max);
      running_sum = running_sum * correction + weight;
      const float* value =
          cache + static_cast<int64_t>(t) * l.token_stride + l.value_offset + tile.kv_head * l.value_head_stride;
      for (int j = 0; j < kPerLane; ++j) {
        const int c = lane + 32 * j;
        acc[j] = acc[j] * correction + (c < l.value_dim ? weight * value[c] : 0.0f);
      }
      running_max = new_max;
    }
    WriteResult<kPerLane>(a, tile, block, k, acc, end > block.kv_begin ? running_max : -FLT_MAX, running_sum);
  }
}

// Shared-memory row strides of the 16-bit kernel (elements): 16 bytes of padding per row put the
// 8 rows of an ldmatrix in different banks.
struct TileStrides {
  int q, k, v, s, p;
  __host__ __device__ TileStrides(int key_dim, int value_dim_padded)
      : q(key_dim + 8), k(key_dim + 8), v(value_dim_padded + 8), s(kTileTokens + 8), p(kTileTokens + 8) {}
};

// Warps that compute one score tile: QK^T has (M/16)(N/16) 16x16 tiles; when that is fewer than the
// block's warps, groups of warps split the key dims and the softmax adds their partial scores.
__host__ __device__ inline int ScoreGroups(int tile_rows, int warps) {
  const int tiles = (tile_rows / 16) * (kTileTokens / 16);
  return tiles >= warps ? 1 : warps / tiles;
}

// Thread threadIdx.x's walk over the 16-byte chunks of a [rows x chunks] tile, chunk i = threadIdx.x
// + i blockDim.x, stepped without a division per chunk (the divisor is a runtime dim).
struct ChunkWalk {
  int chunks, row, col, row_step, col_step;
  __device__ explicit ChunkWalk(int chunks_per_row)
      : chunks(chunks_per_row),
        row(threadIdx.x / chunks_per_row),
        col(threadIdx.x % chunks_per_row),
        row_step(blockDim.x / chunks_per_row),
        col_step(blockDim.x % chunks_per_row) {}
  __device__ void Next() {
    row += row_step;
    col += col_step;
    if (col >= chunks) {
      col -= chunks;
      ++row;
    }
  }
};

// 16-bit caches: a tile of 16 kMTiles items against kTileTokens positions at a time on tensor cores
// (mma.m16n8k16, FP32 accumulate), the next positions loading asynchronously meanwhile. Scores and
// probabilities pass through shared memory; the output accumulates in registers, warp w owning the
// 8-column tiles w, w + kWarps, ... (kNPerWarp of them). The MLA latent row serves as key and value,
// so each sequence's cache is read once for all heads.
template <typename T, int kMTiles, int kNPerWarp, int kWarps>
__global__ void __launch_bounds__(kWarps * 32) TensorCoreAttentionKernel(KernelArgs a) {
  WaitForPreviousKernel();
  extern __shared__ __align__(128) unsigned char smem[];
  constexpr int M = 16 * kMTiles, N = kTileTokens;
  const BlockWork block = a.blocks[blockIdx.x];
  const TileWork tile = a.tiles[block.tile];
  const AttentionLayout& l = a.layout;
  const int Dk = static_cast<int>(l.key_dim), Dv = (static_cast<int>(l.value_dim) + 15) / 16 * 16;
  const bool v_in_k = ValueInKey(l);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, threads = blockDim.x;
  const TileStrides ld(Dk, Dv);
  const int groups = ScoreGroups(M, kWarps);

  T* qs = reinterpret_cast<T*>(smem);
  T* ks = qs + M * ld.q;                                                    // 2 x [N x Dk]
  T* vs = ks + 2 * N * ld.k;                                                // 2 x [N x Dv] unless v_in_k
  float* s = reinterpret_cast<float*>(vs + (v_in_k ? 0 : 2 * N * ld.v));  // groups x [M x N]
  T* p = reinterpret_cast<T*>(s + groups * M * ld.s);                       // [M x N]
  float* row_max = reinterpret_cast<float*>(p + M * ld.p);
  float* row_sum = row_max + M;
  float* row_corr = row_sum + M;
  int* row_pos = reinterpret_cast<int*>(row_corr + M);

  const T* cache = static_cast<const T*>(a.caches[tile.slice]);
  constexpr int kVec = 8;  // 16 bytes of T
  for (int idx = threadIdx.x; idx < M * (Dk / kVec); idx += threads) {
    const int k = idx / (Dk / kVec), c = idx % (Dk / kVec) * kVec;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (k < tile.item_count) {
      const Item it = ItemOf(a, tile, k);
      v = *reinterpret_cast<const uint4*>(static_cast<const T*>(a.q) + (it.row * l.heads + it.head) * l.query_head_stride + c);
    }
    *reinterpret_cast<uint4*>(qs + k * ld.q + c) = v;
  }
  for (int k = threadIdx.x; k < M; k += threads) {
    row_pos[k] = k < tile.item_count ? ItemOf(a, tile, k).position : -1;
    row_max[k] = -FLT_MAX;
    row_sum[k] = 0;
  }

  const ChunkWalk key_walk(Dk / kVec), value_walk(Dv / kVec);
  auto load_rows = [&](T* dst_tile, int stride, int64_t offset, ChunkWalk walk, int t0) {
    for (; walk.row < N; walk.Next()) {
      const int n = walk.row, c = walk.col * kVec;
      T* dst = dst_tile + n * stride + c;
      if (t0 + n < block.kv_end) {
        __pipeline_memcpy_async(dst, cache + static_cast<int64_t>(t0 + n) * l.token_stride + offset + c, 16);
      } else {
        *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
      }
    }
  };
  auto load_tile = [&](int t0, int buffer) {
    load_rows(ks + buffer * N * ld.k, ld.k, tile.kv_head * l.key_head_stride, key_walk, t0);
    if (!v_in_k) load_rows(vs + buffer * N * ld.v, ld.v, l.value_offset + tile.kv_head * l.value_head_stride, value_walk, t0);
    __pipeline_commit();
  };

  Accumulator acc[kMTiles][kNPerWarp];
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int j = 0; j < kNPerWarp; ++j) acc[mt][j] = {{0, 0, 0, 0}};
  }
  const int value_tiles = Dv / 8;

  __syncthreads();
  // Positions past the tile's last query are masked for every row: stop there.
  int last_position = -1;
  for (int k = 0; k < M; ++k) last_position = max(last_position, row_pos[k]);
  const int kv_end = min(block.kv_end, last_position + 1);
  const int steps = kv_end > block.kv_begin ? (kv_end - block.kv_begin + N - 1) / N : 0;
  if (steps > 0) load_tile(block.kv_begin, 0);
  const float scale = l.scale * kLog2e;
  const int score_tiles = kMTiles * (N / 16), k_steps = Dk / 16;
  for (int step = 0; step < steps; ++step) {
    const int t0 = block.kv_begin + step * N, buffer = step & 1;
    __pipeline_wait_prior(0);
    // Also: every warp is done with the other buffer, the scores and the probabilities of the last step.
    __syncthreads();
    if (step + 1 < steps) load_tile(t0 + N, buffer ^ 1);
    const T* kt = ks + buffer * N * ld.k;
    const T* vt = v_in_k ? kt : vs + buffer * N * ld.v;
    const int ldv = v_in_k ? ld.k : ld.v;

    for (int w = warp; w < score_tiles * groups; w += kWarps) {
      const int f = w % score_tiles, g = w / score_tiles;
      const int mi = f / (N / 16), ni = f % (N / 16);
      Accumulator left = {{0, 0, 0, 0}}, right = {{0, 0, 0, 0}};
      for (int kk = g * k_steps / groups; kk < (g + 1) * k_steps / groups; ++kk) {
        uint32_t qa[4], kb[4];
        LoadA(qa, qs + mi * 16 * ld.q + kk * 16, ld.q);
        LoadBFromRows(kb, kt + ni * 16 * ld.k + kk * 16, ld.k);
        Mma16816<T>(left, qa, kb[0], kb[1]);
        Mma16816<T>(right, qa, kb[2], kb[3]);
      }
      float* out = s + g * M * ld.s + (mi * 16 + lane / 4) * ld.s + ni * 16 + 2 * (lane % 4);
      *reinterpret_cast<float2*>(out) = make_float2(left.c[0], left.c[1]);
      *reinterpret_cast<float2*>(out + 8) = make_float2(right.c[0], right.c[1]);
      *reinterpret_cast<float2*>(out + 8 * ld.s) = make_float2(left.c[2], left.c[3]);
      *reinterpret_cast<float2*>(out + 8 * ld.s + 8) = make_float2(right.c[2], right.c[3]);
    }
    __syncthreads();

    // Online softmax: 8 lanes per row, each holding N / 8 positions.
    for (int r = threadIdx.x / 8; r < M; r += threads / 8) {
      const int sub = threadIdx.x % 8, pos = row_pos[r];
      float w[N / 8];
      float tile_max = -FLT_MAX;
#pragma unroll
      for (int j = 0; j < N / 8; ++j) {
        const int n = sub + 8 * j;
        float score = 0;
        for (int g = 0; g < groups; ++g) score += s[g * M * ld.s + r * ld.s + n];
        const bool valid = t0 + n <= pos && t0 + n < kv_end;
        w[j] = valid ? score * scale : -FLT_MAX;
        tile_max = fmaxf(tile_max, w[j]);
      }
      for (int offset = 4; offset > 0; offset /= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffff, tile_max, offset));
      const float old_max = row_max[r], new_max = fmaxf(old_max, tile_max);
      const bool any = new_max > -FLT_MAX;
      float sum = 0;
#pragma unroll
      for (int j = 0; j < N / 8; ++j) {
        const float e = any && w[j] > -FLT_MAX ? exp2f(w[j] - new_max) : 0.0f;
        sum += e;
        p[r * ld.p + sub + 8 * j] = static_cast<T>(e);
      }
      for (int offset = 4; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffff, sum, offset);
      __syncwarp();
      if (sub == 0) {
        const float corr = any ? exp2f(old_max - new_max) : 1.0f;
        row_sum[r] = row_sum[r] * corr + sum;
        row_max[r] = new_max;
        row_corr[r] = corr;
      }
    }
    __syncthreads();

    ScaleTileRows(acc, row_corr, lane);
#pragma unroll
    for (int kk = 0; kk < N / 16; ++kk) {
      uint32_t pa[kMTiles][4];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) LoadA(pa[mt], p + mt * 16 * ld.p + kk * 16, ld.p);
      const T* v_rows = vt + kk * 16 * ldv;
#pragma unroll
      for (int j = 0; j < kNPerWarp; j += 2) {
        const int first = warp + kWarps * j, second = warp + kWarps * (j + 1);
        if (first >= value_tiles) break;
        const bool pair = j + 1 < kNPerWarp && second < value_tiles;
        uint32_t vb[4];
        LoadBFromColumns(vb, v_rows, ldv, first * 8, (pair ? second : first) * 8);
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt) {
          Mma16816<T>(acc[mt][j], pa[mt], vb[0], vb[1]);
          if constexpr (kNPerWarp > 1) {
            if (pair) Mma16816<T>(acc[mt][j + 1], pa[mt], vb[2], vb[3]);
          }
        }
      }
    }
  }

  // Each warp writes its columns of every item's row (normalized, or the unnormalized partial).
  const bool split = a.tile_splits[block.tile] > 1;
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int k = mt * 16 + lane / 4 + 8 * half;
      if (k >= tile.item_count) continue;
      const int64_t base = OutputBase(a, tile, block, k);
      const float inv = split ? 1.0f : (row_sum[k] > 0 ? 1.0f / row_sum[k] : 0.0f);
#pragma unroll
      for (int j = 0; j < kNPerWarp; ++j) {
        const int column_tile = warp + kWarps * j;
        if (column_tile >= value_tiles) break;
        for (int e = 0; e < 2; ++e) {
          const int c = column_tile * 8 + 2 * (lane % 4) + e;
          if (c >= l.value_dim) continue;
          const float v = acc[mt][j].c[2 * half + e];
          if (split) {
            a.partial_out[base + c] = v;
          } else {
            StoreAs(a.out, a.out_type, base + c, v * inv);
          }
        }
      }
    }
  }
  if (split) {
    for (int k = threadIdx.x; k < tile.item_count; k += threads) WritePartialStats(a, tile, block, k, row_max[k], row_sum[k]);
  }
}

template <typename Out>
__device__ void StoreOut(Out* out, int64_t i, float v) {
  out[i] = static_cast<Out>(v);
}

// out[out_base + c] = sum_s weight[s] partial[s * split_stride + c] * inv_den for c < dv, kWidth
// consecutive columns a thread. Where a pass over the columns takes fewer threads than the block
// has, groups of them take every groups-th run of kLoadsInFlight splits and their sums are added in
// group order through `group_sums` (kMaxMergeThreads * kWidth floats): at batch 1 a few blocks merge
// up to 256 splits, and each run of loads waits for the memory. A thread issues a run's loads
// before its sums, which keep the split order.
template <int kWidth, typename Out>
__device__ __forceinline__ void MergeColumns(const float* partial, int64_t split_stride, int splits, const float* weight,
                                             float inv_den, int64_t dv, Out* out, int64_t out_base, int column_threads,
                                             int groups, float* group_sums) {
  constexpr int kLoadsInFlight = 8;
  const int group = threadIdx.x / column_threads;
  if (group >= groups) return;
  for (int64_t c = kWidth * (threadIdx.x % column_threads); c < dv; c += kWidth * column_threads) {
    float num[kWidth] = {};
    for (int sp0 = group * kLoadsInFlight; sp0 < splits; sp0 += groups * kLoadsInFlight) {
      float v[kLoadsInFlight][kWidth];
#pragma unroll
      for (int u = 0; u < kLoadsInFlight; ++u) {
        const float* src = partial + (sp0 + u) * split_stride + c;
        if constexpr (kWidth == 4) {
          const float4 x = sp0 + u < splits ? *reinterpret_cast<const float4*>(src) : make_float4(0, 0, 0, 0);
          v[u][0] = x.x;
          v[u][1] = x.y;
          v[u][2] = x.z;
          v[u][3] = x.w;
        } else {
          v[u][0] = sp0 + u < splits ? *src : 0.0f;
        }
      }
#pragma unroll
      for (int u = 0; u < kLoadsInFlight; ++u) {
        if (sp0 + u >= splits) break;
#pragma unroll
        for (int w = 0; w < kWidth; ++w) num[w] += weight[sp0 + u] * v[u][w];
      }
    }
#pragma unroll
    for (int w = 0; w < kWidth && c + w < dv; ++w) {
      if (groups == 1) {
        StoreOut(out, out_base + c + w, num[w] * inv_den);
      } else {
        group_sums[group * dv + c + w] = num[w];
      }
    }
  }
}

// The groups' sums of MergeColumns, added in group order (every thread of the block calls it).
template <typename Out>
__device__ __forceinline__ void AddGroupSums(const float* group_sums, int groups, float inv_den, int64_t dv, Out* out,
                                             int64_t out_base) {
  __syncthreads();
  for (int64_t c = threadIdx.x; c < dv; c += blockDim.x) {
    float sum = 0;
    for (int g = 0; g < groups; ++g) sum += group_sums[g * dv + c];
    StoreOut(out, out_base + c, sum * inv_den);
  }
}

// Merges each item's splits: out = sum_s 2^(m_s - M) o_s / sum_s 2^(m_s - M) l_s. One block of
// MergeThreads per (tile, item); its first warp computes the split weights into shared memory
// (each lane's loads at once), then MergeColumns.
template <typename Out>
__global__ void CombineKernel(KernelArgs a, Out* out) {
  constexpr int kSplitsPerLane = kMaxSplits / 32;
  WaitForPreviousKernel();
  const TileWork tile = a.tiles[blockIdx.x];
  const int splits = a.tile_splits[blockIdx.x], k = static_cast<int>(blockIdx.y);
  if (splits == 1 || k >= tile.item_count) return;  // written by the attention kernel / no such item
  __shared__ float weight[kMaxSplits];
  __shared__ float inv_den;
  const int64_t first_slot = tile.partial_base + k, split_stride = tile.item_count;
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    float max_log2[kSplitsPerLane], sum[kSplitsPerLane];
    float m = -FLT_MAX;
#pragma unroll
    for (int i = 0; i < kSplitsPerLane; ++i) {
      const int sp = lane + 32 * i;
      max_log2[i] = sp < splits ? a.partial_max[first_slot + sp * split_stride] : -FLT_MAX;
      sum[i] = sp < splits ? a.partial_sum[first_slot + sp * split_stride] : 0.0f;
      m = fmaxf(m, max_log2[i]);
    }
    for (int offset = 16; offset > 0; offset /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, offset));
    float den = 0;
#pragma unroll
    for (int i = 0; i < kSplitsPerLane; ++i) {
      const int sp = lane + 32 * i;
      if (sp < splits) {
        weight[sp] = exp2f(max_log2[i] - m);
        den += weight[sp] * sum[i];
      }
    }
    for (int offset = 16; offset > 0; offset /= 2) den += __shfl_xor_sync(0xffffffff, den, offset);
    if (lane == 0) inv_den = den > 0 ? 1.0f / den : 0.0f;
  }
  __syncthreads();
  const Item it = ItemOf(a, tile, k);
  const int64_t dv = a.layout.value_dim, out_base = (it.row * a.layout.heads + it.head) * dv;
  const float* partial = a.partial_out + first_slot * dv;
  const int width = dv % 4 == 0 ? 4 : 1;
  const int column_threads = static_cast<int>(min((dv + width - 1) / width, static_cast<int64_t>(blockDim.x)));
  const int groups = blockDim.x / column_threads;
  __shared__ float group_sums[4 * kMaxMergeThreads];
  if (width == 4) {
    MergeColumns<4>(partial, split_stride * dv, splits, weight, inv_den, dv, out, out_base, column_threads, groups,
                    group_sums);
  } else {
    MergeColumns<1>(partial, split_stride * dv, splits, weight, inv_den, dv, out, out_base, column_threads, groups,
                    group_sums);
  }
  if (groups > 1) AddGroupSums(group_sums, groups, inv_den, dv, out, out_base);
}

size_t SharedBytes(const AttentionLayout& l, int tile_rows, int warps, size_t elem) {
  const int dv = static_cast<int>((l.value_dim + 15) / 16 * 16);
  const TileStrides ld(static_cast<int>(l.key_dim), dv);
  const size_t m = static_cast<size_t>(tile_rows), n = kTileTokens;
  return elem * (m * ld.q + 2 * n * ld.k + (ValueInKey(l) ? 0 : 2 * n * ld.v) + m * ld.p) +
         4 * (ScoreGroups(tile_rows, warps) * m * ld.s + 4 * m);
}

using AttentionKernel = void (*)(KernelArgs);

template <typename T, int kMTiles, int kWarps>
AttentionKernel KernelFor(int n_per_warp) {
  switch (n_per_warp) {
    case 1: return TensorCoreAttentionKernel<T, kMTiles, 1, kWarps>;
    case 2: return TensorCoreAttentionKernel<T, kMTiles, 2, kWarps>;
    case 4: return TensorCoreAttentionKernel<T, kMTiles, 4, kWarps>;
    case 8:
      if constexpr (kMTiles <= 2 && kWarps == kAttentionWarps) return TensorCoreAttentionKernel<T, kMTiles, 8, kWarps>;
      return nullptr;
    default: return nullptr;
  }
}

template <typename T, int kWarps>
AttentionKernel KernelFor(int tile_rows, int64_t value_dim) {
  const int64_t value_tiles = (value_dim + 15) / 16 * 2;
  int n_per_warp = 1;
  while (n_per_warp * kWarps < value_tiles) n_per_warp *= 2;
  switch (tile_rows) {
    case 16: return KernelFor<T, 1, kWarps>(n_per_warp);
    case 32: return KernelFor<T, 2, kWarps>(n_per_warp);
    case 64: return KernelFor<T, 4, kWarps>(n_per_warp);
    default: return nullptr;
  }
}

// 8 warps per block, or 16 where shared memory leaves room for only one block per multiprocessor
// (MLA's 576-dim tiles): two warps per scheduler could not hide the mma and load latencies.
template <typename T>
absl::StatusOr<TensorCoreLaunch> ChooseTensorCore(const AttentionLayout& layout, int tile_rows,
                                                                 const AttentionDeviceLimits& limits) {
  int warps = kAttentionWarps;
  size_t bytes = SharedBytes(layout, tile_rows, warps, sizeof(T));
  constexpr size_t kReservedPerBlock = 1024;  // the driver's share of each block's shared memory
  const size_t wide_bytes = SharedBytes(layout, tile_rows, 2 * kAttentionWarps, sizeof(T));
  const size_t limit = static_cast<size_t>(limits.shared_per_block);
  if (2 * (bytes + kReservedPerBlock) > static_cast<size_t>(limits.shared_per_multiprocessor) && wide_bytes <= limit) {
    warps = 2 * kAttentionWarps;
    bytes = wide_bytes;
  }
  const AttentionKernel kernel = warps == kAttentionWarps ? KernelFor<T, kAttentionWarps>(tile_rows, layout.value_dim)
                                                          : KernelFor<T, 2 * kAttentionWarps>(tile_rows, layout.value_dim);
  if (kernel == nullptr) {
    return absl::InvalidArgumentError(fmt::format(
        "16-bit attention supports value dims up to 512 (got {} for tiles of {} rows); use --gpu-dtype f32",
        layout.value_dim, tile_rows));
  }
  if (bytes > limit) {
    return absl::InvalidArgumentError(fmt::format(
        "16-bit attention over key dim {} and value dim {} needs {} bytes of shared memory per block, the GPU has {}; "
        "use --gpu-dtype f32", layout.key_dim, layout.value_dim, bytes, limit));
  }
  return ConfigureLaunch(reinterpret_cast<const void*>(kernel), warps * 32, bytes, limits);
}

}  // namespace

absl::StatusOr<TensorCoreLaunch> ConfigureLaunch(const void* kernel, int threads, size_t shared_bytes,
                                                 const AttentionDeviceLimits& limits, int tile_rows) {
  if (shared_bytes > static_cast<size_t>(limits.shared_per_block)) return TensorCoreLaunch{};
  CUDA_RETURN_IF_ERROR(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes)));
  return TensorCoreLaunch{kernel, threads, shared_bytes, tile_rows};
}

absl::StatusOr<TensorCoreLaunch> ConfigureTensorMapLaunch(const void* kernel, int threads, size_t shared_bytes,
                                                          const AttentionDeviceLimits& limits) {
  ASSIGN_OR_RETURN(TensorCoreLaunch launch, ConfigureLaunch(kernel, threads, shared_bytes, limits));
  launch.reads_cache_maps = launch.kernel != nullptr;
  return launch;
}

absl::StatusOr<AttentionDeviceLimits> CurrentDeviceLimits() {
  AttentionDeviceLimits limits;
  int device = 0, major = 0, minor = 0;
  CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&limits.multiprocessors, cudaDevAttrMultiProcessorCount, device));
  CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&limits.shared_per_block, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&limits.shared_per_multiprocessor,
                                              cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
  CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
#ifdef TRANSMLA_CUDA_SM90A
  // sm_90a code runs on compute capability 9.0 only; later GPUs take the PTX without it.
  limits.warpgroup_mma = major == 9 && minor == 0;
#endif
  return limits;
}

absl::Status AttentionPlan::Build(const std::vector<AttentionSlice>& slices, const AttentionLayout& layout,
                                  GpuType cache_type, cudaStream_t stream) {
  layout_ = layout;
  cache_type_ = cache_type;
  if (limits_.multiprocessors == 0) {
    ASSIGN_OR_RETURN(limits_, CurrentDeviceLimits());
  }
  const int64_t group = layout.heads / layout.kv_heads;
  const int64_t dv_padded = (layout.value_dim + 15) / 16 * 16;
  const int max_rows = cache_type == GpuType::kF32 ? 64 : (dv_padded >= 256 || layout.key_dim >= 384 ? 32 : 64);
  int64_t widest = 0;
  for (const AttentionSlice& s : slices) widest = std::max<int64_t>(widest, s.count * group);
  // Steps of prompts only (no decoding sequence) take the prefill kernel where it is compiled for
  // these dims and some prompt fills its tiles.
  const bool prompts_only =
      std::all_of(slices.begin(), slices.end(), [](const AttentionSlice& s) { return s.count > 1; });
  launch_ = {};
  if (cache_type != GpuType::kF32 && prompts_only && widest >= kPrefillTileRows) {
    ASSIGN_OR_RETURN(launch_, ChoosePrefillAttention(cache_type, layout, limits_));
  }
  if (launch_.kernel != nullptr) {
    tile_rows_ = launch_.tile_rows;
  } else {
    // 16, 32 or 64 rows: the general tensor-core kernel is compiled for these.
    tile_rows_ = 16;
    while (tile_rows_ < max_rows && tile_rows_ < widest) tile_rows_ *= 2;
    // MLA's latent cache takes its own kernel where its dims are compiled, decoding GQA tiles the
    // warpgroup kernel where it runs, else the general one serves.
    if (cache_type != GpuType::kF32) {
      ASSIGN_OR_RETURN(launch_, ChooseLatentAttention(cache_type, layout, tile_rows_, limits_));
    }
    if (cache_type != GpuType::kF32 && launch_.kernel == nullptr) {
      ASSIGN_OR_RETURN(launch_, ChooseDecodeWgmma(cache_type, layout, tile_rows_, limits_));
    }
    if (launch_.kernel == nullptr && cache_type == GpuType::kBF16) {
      ASSIGN_OR_RETURN(launch_, ChooseTensorCore<__nv_bfloat16>(layout, tile_rows_, limits_));
    } else if (launch_.kernel == nullptr && cache_type == GpuType::kF16) {
      ASSIGN_OR_RETURN(launch_, ChooseTensorCore<__half>(layout, tile_rows_, limits_));
    }
  }

  std::vector<TileWork> tiles;
  std::vector<TileReach> reach;
  for (size_t i = 0; i < slices.size(); ++i) {
    const int64_t items = slices[i].count * group;
    for (int32_t g = 0; g < layout.kv_heads; ++g) {
      for (int64_t begin = 0; begin < items; begin += tile_rows_) {
        const int64_t count = std::min<int64_t>(tile_rows_, items - begin);
        const int64_t last_token = (begin + count - 1) / group;
        tiles.push_back({static_cast<int32_t>(i), g, static_cast<int32_t>(begin), static_cast<int32_t>(count), 0});
        reach.push_back({slices[i].start_position + last_token + 1, slices[i].count == 1});
      }
    }
  }
  const auto resident_blocks = [&]() -> absl::StatusOr<int64_t> {
    int per_multiprocessor = 0;
    CUDA_RETURN_IF_ERROR(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_multiprocessor, launch_.kernel,
                                                                       launch_.threads, launch_.shared_bytes));
    return static_cast<int64_t>(std::max(per_multiprocessor, 1)) * limits_.multiprocessors;
  };
  ASSIGN_OR_RETURN(const std::vector<int64_t> chunks, PlanChunks(reach, cache_type != GpuType::kF32, resident_blocks));
  std::vector<int32_t> tile_splits;
  std::vector<BlockWork> blocks;
  partial_slots_ = 0;
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int64_t limit = reach[t].positions, chunk = chunks[t];
    const int64_t splits = (limit + chunk - 1) / chunk;
    tiles[t].partial_base = static_cast<int32_t>(partial_slots_);
    if (splits > 1) partial_slots_ += splits * tiles[t].item_count;
    for (int64_t sp = 0; sp < splits; ++sp) {
      blocks.push_back({static_cast<int32_t>(t), static_cast<int32_t>(sp), static_cast<int32_t>(sp * chunk),
                        static_cast<int32_t>(std::min(limit, (sp + 1) * chunk))});
    }
    tile_splits.push_back(static_cast<int32_t>(splits));
  }
  // float32 plans merge with the same threads at every batch: their sums' order must not depend on it.
  const int32_t max_splits = tile_splits.empty() ? 1 : *std::max_element(tile_splits.begin(), tile_splits.end());
  combine_threads_ = MergeThreads(layout.value_dim, cache_type == GpuType::kF32 ? 1 : max_splits);
  if (prompts_only) {
    // Causal tiles late in a prompt read the most positions: start those first so that the last
    // wave is short ones.
    std::stable_sort(blocks.begin(), blocks.end(), [](const BlockWork& x, const BlockWork& y) {
      return x.kv_end - x.kv_begin > y.kv_end - y.kv_begin;
    });
  }
  tiles_ = static_cast<int64_t>(tiles.size());
  blocks_ = static_cast<int64_t>(blocks.size());
  // The split counts ride behind the tiles in one table.
  std::vector<unsigned char> tile_table(tiles.size() * sizeof(TileWork) + tile_splits.size() * sizeof(int32_t));
  std::copy_n(reinterpret_cast<const unsigned char*>(tiles.data()), tiles.size() * sizeof(TileWork), tile_table.data());
  std::copy_n(reinterpret_cast<const unsigned char*>(tile_splits.data()), tile_splits.size() * sizeof(int32_t),
              tile_table.data() + tiles.size() * sizeof(TileWork));
  RETURN_IF_ERROR(slices_.Upload(slices.data(), slices.size() * sizeof(AttentionSlice), stream));
  RETURN_IF_ERROR(tiles_table_.Upload(tile_table.data(), tile_table.size(), stream));
  RETURN_IF_ERROR(blocks_table_.Upload(blocks.data(), blocks.size() * sizeof(BlockWork), stream));
  const size_t slots = static_cast<size_t>(partial_slots_);
  RETURN_IF_ERROR(partial_out_.Reserve(slots * static_cast<size_t>(layout.value_dim) * sizeof(float)));
  RETURN_IF_ERROR(partial_max_.Reserve(slots * sizeof(float)));
  RETURN_IF_ERROR(partial_sum_.Reserve(slots * sizeof(float)));
  return absl::OkStatus();
}

absl::Status AttentionPlan::Run(const void* q, const void* const* caches, const CacheTensorMap* cache_maps, void* out,
                                GpuType out_type, cudaStream_t stream) {
  if (needs_cache_maps() && cache_maps == nullptr) {
    return absl::FailedPreconditionError("this attention plan copies through the caches' tensor maps: none given");
  }
  const int32_t* splits = reinterpret_cast<const int32_t*>(tiles_table_.as<TileWork>() + tiles_);
  const KernelArgs args{q, caches, cache_maps, slices_.as<AttentionSlice>(), tiles_table_.as<TileWork>(),
                        blocks_table_.as<BlockWork>(), layout_, tile_rows_, partial_out_.f(), partial_max_.f(),
                        partial_sum_.f(), splits, out, out_type};
  const unsigned grid = static_cast<unsigned>(blocks_), threads = kAttentionWarps * 32;
  switch (cache_type_) {
    case GpuType::kF32:
      if (layout_.key_dim <= 256 && layout_.value_dim <= 256) {
        Launch(WarpAttentionKernel<8>, grid, threads, 0, stream, args);
      } else if (layout_.key_dim <= 1024 && layout_.value_dim <= 1024) {
        Launch(WarpAttentionKernel<32>, grid, threads, 0, stream, args);
      } else {
        return absl::InvalidArgumentError(fmt::format("attention dims {} / {} exceed 1024", layout_.key_dim, layout_.value_dim));
      }
      break;
    case GpuType::kBF16:
    case GpuType::kF16: {
      void* params[] = {const_cast<KernelArgs*>(&args)};
      CUDA_RETURN_IF_ERROR(LaunchChosen(launch_.kernel, grid, launch_.threads, launch_.shared_bytes, stream, params));
      break;
    }
  }
  if (partial_slots_ == 0) {
    CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return absl::OkStatus();
  }
  const dim3 tiles(static_cast<unsigned>(tiles_), static_cast<unsigned>(tile_rows_));
  switch (out_type) {
    case GpuType::kF32: Launch(CombineKernel<float>, tiles, combine_threads_, 0, stream, args, static_cast<float*>(out)); break;
    case GpuType::kBF16: Launch(CombineKernel<__nv_bfloat16>, tiles, combine_threads_, 0, stream, args, static_cast<__nv_bfloat16*>(out)); break;
    case GpuType::kF16: Launch(CombineKernel<__half>, tiles, combine_threads_, 0, stream, args, static_cast<__half*>(out)); break;
  }
  CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return absl::OkStatus();
}

}  // namespace transmla::cuda
