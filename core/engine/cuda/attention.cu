#include "core/engine/cuda/attention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>
#include <mma.h>

#include <algorithm>
#include <cfloat>

#include "core/engine/cuda/attention_kernels.cuh"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cuda {
namespace {

constexpr float kLog2e = 1.4426950408889634f;

struct KernelArgs {
  const void* q;
  const void* const* caches;
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

__device__ Item ItemOf(const KernelArgs& a, const TileWork& tile, int k) {
  const int64_t group = a.layout.heads / a.layout.kv_heads;
  const AttentionSlice s = a.slices[tile.slice];
  const int64_t item = tile.item_begin + k, token = item / group;
  return {s.row_begin + token, tile.kv_head * group + item % group, static_cast<int32_t>(s.start_position + token)};
}

// One warp's result for item k: the normalized output when the tile is not split, else its partial.
// `acc` holds the warp's share: lane + 32 j for j < per_lane (or a shared row when per_lane is 0).
__device__ void WriteResult(const KernelArgs& a, const TileWork& tile, const BlockWork& block, int k,
                            const float* row, const float* acc, int per_lane, float max_log2, float sum) {
  const int lane = threadIdx.x % 32;
  const int64_t dv = a.layout.value_dim;
  auto value = [&](int j, int c) { return per_lane > 0 ? acc[j] : row[c]; };
  const int count = per_lane > 0 ? per_lane : static_cast<int>((dv + 31) / 32);
  if (a.tile_splits[block.tile] == 1) {
    const Item it = ItemOf(a, tile, k);
    const float inv = sum > 0 ? 1.0f / sum : 0.0f;
    for (int j = 0; j < count; ++j) {
      const int c = lane + 32 * j;
      if (c < dv) StoreAs(a.out, a.out_type, (it.row * a.layout.heads + it.head) * dv + c, value(j, c) * inv);
    }
    return;
  }
  const int64_t slot = tile.partial_base + static_cast<int64_t>(block.split) * tile.item_count + k;
  for (int j = 0; j < count; ++j) {
    const int c = lane + 32 * j;
    if (c < dv) a.partial_out[slot * dv + c] = value(j, c);
  }
  if (lane == 0) {
    a.partial_max[slot] = max_log2;
    a.partial_sum[slot] = sum;
  }
}

// float32 caches: one warp per item, lanes split the dims, an online softmax over the block's
// positions (no score matrix anywhere).
template <int kPerLane>
__global__ void __launch_bounds__(kAttentionWarps * 32) WarpAttentionKernel(KernelArgs a) {
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
    WriteResult(a, tile, block, k, nullptr, acc, kPerLane, end > block.kv_begin ? running_max : -FLT_MAX, running_sum);
  }
}

// Shared-memory row strides of the 16-bit kernel: 16 bytes of padding per row so that the 16 rows
// of a WMMA fragment start in different banks.
struct TileStrides {
  int q, k, v, s, p, o;
  __host__ __device__ TileStrides(int key_dim, int value_dim_padded)
      : q(key_dim + 8), k(key_dim + 8), v(value_dim_padded + 8), s(kTileTokens + 8), p(kTileTokens + 8),
        o(value_dim_padded + 4) {}
};

// Warps that compute one score tile: QK^T has (M/16)(N/16) fragments; when that is fewer than the
// block's warps, groups of warps split the key dims and the softmax adds their partial scores.
__host__ __device__ inline int ScoreGroups(int tile_rows) {
  const int fragments = (tile_rows / 16) * (kTileTokens / 16);
  return fragments >= kAttentionWarps ? 1 : kAttentionWarps / fragments;
}

// 16-bit caches: a tile of up to tile_rows items against kTileTokens positions at a time on tensor
// cores (WMMA 16x16x16, FP32 accumulate), the next positions loading asynchronously meanwhile. The
// MLA latent row serves as key and value, so each sequence's cache is read once for all heads.
template <typename T>
__global__ void __launch_bounds__(kAttentionWarps * 32) TensorCoreAttentionKernel(KernelArgs a) {
  using namespace nvcuda;
  extern __shared__ __align__(128) unsigned char smem[];
  const BlockWork block = a.blocks[blockIdx.x];
  const TileWork tile = a.tiles[block.tile];
  const AttentionLayout& l = a.layout;
  const int M = a.tile_rows, Dk = static_cast<int>(l.key_dim), N = kTileTokens;
  const int Dv = (static_cast<int>(l.value_dim) + 15) / 16 * 16;
  const bool v_in_k = l.kv_heads == 1 && l.key_head_stride == 0 && l.value_offset == 0;
  const int warp = threadIdx.x / 32, threads = blockDim.x;
  const TileStrides ld(Dk, Dv);
  const int groups = ScoreGroups(M);

  T* qs = reinterpret_cast<T*>(smem);
  T* ks = qs + M * ld.q;                                                    // 2 x [N x Dk]
  T* vs = ks + 2 * N * ld.k;                                                // 2 x [N x Dv] unless v_in_k
  float* s = reinterpret_cast<float*>(vs + (v_in_k ? 0 : 2 * N * ld.v));  // groups x [M x N]
  T* p = reinterpret_cast<T*>(s + groups * M * ld.s);                       // [M x N]
  float* o = reinterpret_cast<float*>(p + M * ld.p);                        // [M x Dv]
  float* row_max = o + M * ld.o;
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
  for (int idx = threadIdx.x; idx < M * Dv; idx += threads) o[idx / Dv * ld.o + idx % Dv] = 0;

  auto load_tile = [&](int t0, int buffer) {
    T* kdst = ks + buffer * N * ld.k;
    T* vdst = vs + buffer * N * ld.v;
    for (int idx = threadIdx.x; idx < N * (Dk / kVec); idx += threads) {
      const int n = idx / (Dk / kVec), c = idx % (Dk / kVec) * kVec;
      T* dst = kdst + n * ld.k + c;
      if (t0 + n < block.kv_end) {
        __pipeline_memcpy_async(dst, cache + static_cast<int64_t>(t0 + n) * l.token_stride + tile.kv_head * l.key_head_stride + c, 16);
      } else {
        *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
      }
    }
    if (!v_in_k) {
      for (int idx = threadIdx.x; idx < N * (Dv / kVec); idx += threads) {
        const int n = idx / (Dv / kVec), c = idx % (Dv / kVec) * kVec;
        T* dst = vdst + n * ld.v + c;
        if (t0 + n < block.kv_end) {
          __pipeline_memcpy_async(
              dst, cache + static_cast<int64_t>(t0 + n) * l.token_stride + l.value_offset + tile.kv_head * l.value_head_stride + c, 16);
        } else {
          *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
        }
      }
    }
    __pipeline_commit();
  };

  __syncthreads();
  // Positions past the tile's last query are masked for every row: stop there.
  int last_position = -1;
  for (int k = 0; k < M; ++k) last_position = max(last_position, row_pos[k]);
  const int kv_end = min(block.kv_end, last_position + 1);
  const int steps = kv_end > block.kv_begin ? (kv_end - block.kv_begin + N - 1) / N : 0;
  if (steps > 0) load_tile(block.kv_begin, 0);
  const float scale = l.scale * kLog2e;
  const int score_fragments = (M / 16) * (N / 16), k_steps = Dk / 16;
  for (int step = 0; step < steps; ++step) {
    const int t0 = block.kv_begin + step * N, buffer = step & 1;
    if (step + 1 < steps) {
      load_tile(t0 + N, buffer ^ 1);
      __pipeline_wait_prior(1);
    } else {
      __pipeline_wait_prior(0);
    }
    __syncthreads();
    const T* kt = ks + buffer * N * ld.k;
    const T* vt = v_in_k ? kt : vs + buffer * N * ld.v;
    const int ldv = v_in_k ? ld.k : ld.v;

    if (warp < score_fragments * groups) {
      const int f = warp % score_fragments, g = warp / score_fragments;
      const int mi = f / (N / 16), ni = f % (N / 16);
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
      for (int kk = g * k_steps / groups; kk < (g + 1) * k_steps / groups; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kb;
        wmma::load_matrix_sync(qa, qs + mi * 16 * ld.q + kk * 16, ld.q);
        wmma::load_matrix_sync(kb, kt + ni * 16 * ld.k + kk * 16, ld.k);
        wmma::mma_sync(acc, qa, kb, acc);
      }
      wmma::store_matrix_sync(s + g * M * ld.s + mi * 16 * ld.s + ni * 16, acc, ld.s, wmma::mem_row_major);
    }
    __syncthreads();

    // Online softmax: 8 lanes per row, each holding N / 8 positions.
    for (int r = threadIdx.x / 8; r < M; r += threads / 8) {
      const int sub = threadIdx.x % 8, pos = row_pos[r];
      float w[kTileTokens / 8];
      float tile_max = -FLT_MAX;
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
    for (int r = warp; r < M; r += kAttentionWarps) {
      const float corr = row_corr[r];
      for (int c = threadIdx.x % 32; c < Dv; c += 32) o[r * ld.o + c] *= corr;
    }
    __syncthreads();

    for (int f = warp; f < (M / 16) * (Dv / 16); f += kAttentionWarps) {
      const int mi = f / (Dv / 16), ci = f % (Dv / 16);
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, o + mi * 16 * ld.o + ci * 16, ld.o, wmma::mem_row_major);
      for (int kk = 0; kk < N; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vb;
        wmma::load_matrix_sync(pa, p + mi * 16 * ld.p + kk, ld.p);
        wmma::load_matrix_sync(vb, vt + kk * ldv + ci * 16, ldv);
        wmma::mma_sync(acc, pa, vb, acc);
      }
      wmma::store_matrix_sync(o + mi * 16 * ld.o + ci * 16, acc, ld.o, wmma::mem_row_major);
    }
    __syncthreads();
  }
  for (int k = warp; k < tile.item_count; k += kAttentionWarps) {
    WriteResult(a, tile, block, k, o + k * ld.o, nullptr, 0, row_max[k], row_sum[k]);
  }
}

template <typename Out>
__device__ void StoreOut(Out* out, int64_t i, float v) {
  out[i] = static_cast<Out>(v);
}

// Merges each item's splits: out = sum_s 2^(m_s - M) o_s / sum_s 2^(m_s - M) l_s. One block per
// (tile, item); the split weights are computed once into shared memory.
template <typename Out>
__global__ void CombineKernel(KernelArgs a, Out* out) {
  const TileWork tile = a.tiles[blockIdx.x];
  const int splits = a.tile_splits[blockIdx.x], k = static_cast<int>(blockIdx.y);
  if (splits == 1 || k >= tile.item_count) return;  // written by the attention kernel / no such item
  __shared__ float weight[kMaxSplits];
  __shared__ float inv_den;
  if (threadIdx.x == 0) {
    float m = -FLT_MAX;
    for (int sp = 0; sp < splits; ++sp) m = fmaxf(m, a.partial_max[tile.partial_base + sp * tile.item_count + k]);
    float den = 0;
    for (int sp = 0; sp < splits; ++sp) {
      const int64_t slot = tile.partial_base + static_cast<int64_t>(sp) * tile.item_count + k;
      weight[sp] = exp2f(a.partial_max[slot] - m);
      den += weight[sp] * a.partial_sum[slot];
    }
    inv_den = den > 0 ? 1.0f / den : 0.0f;
  }
  __syncthreads();
  const int64_t dv = a.layout.value_dim;
  const Item it = ItemOf(a, tile, k);
  for (int64_t c = threadIdx.x; c < dv; c += blockDim.x) {
    float num = 0;
    for (int sp = 0; sp < splits; ++sp) {
      const int64_t slot = tile.partial_base + static_cast<int64_t>(sp) * tile.item_count + k;
      num += weight[sp] * a.partial_out[slot * dv + c];
    }
    StoreOut(out, (it.row * a.layout.heads + it.head) * dv + c, num * inv_den);
  }
}

size_t SharedBytes(const AttentionLayout& l, int tile_rows, size_t elem) {
  const int dv = static_cast<int>((l.value_dim + 15) / 16 * 16);
  const TileStrides ld(static_cast<int>(l.key_dim), dv);
  const bool v_in_k = l.kv_heads == 1 && l.key_head_stride == 0 && l.value_offset == 0;
  const size_t m = static_cast<size_t>(tile_rows), n = kTileTokens;
  return elem * (m * ld.q + 2 * n * ld.k + (v_in_k ? 0 : 2 * n * ld.v) + m * ld.p) +
         4 * (ScoreGroups(tile_rows) * m * ld.s + m * ld.o + 4 * m);
}

template <typename T>
absl::Status LaunchTensorCore(const KernelArgs& args, int64_t blocks, cudaStream_t stream) {
  const size_t bytes = SharedBytes(args.layout, args.tile_rows, sizeof(T));
  CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(TensorCoreAttentionKernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            static_cast<int>(bytes)));
  TensorCoreAttentionKernel<T><<<static_cast<unsigned>(blocks), kAttentionWarps * 32, bytes, stream>>>(args);
  return absl::OkStatus();
}

}  // namespace

constexpr int64_t kMinChunk = 256;

absl::Status AttentionPlan::Build(const std::vector<AttentionSlice>& slices, const AttentionLayout& layout,
                                  GpuType cache_type, cudaStream_t stream) {
  layout_ = layout;
  cache_type_ = cache_type;
  host_slices_ = slices;
  const int64_t group = layout.heads / layout.kv_heads;
  const int64_t dv_padded = (layout.value_dim + 15) / 16 * 16;
  const int max_rows = cache_type == GpuType::kF32 ? 64 : (dv_padded >= 256 || layout.key_dim >= 384 ? 32 : 64);
  int64_t widest = 0;
  rows_ = 0;
  for (const AttentionSlice& s : slices) {
    widest = std::max<int64_t>(widest, s.count * group);
    rows_ = std::max<int64_t>(rows_, s.row_begin + s.count);
  }
  tile_rows_ = static_cast<int>(std::min<int64_t>(max_rows, (widest + 15) / 16 * 16));

  struct Pending {
    TileWork tile;
    int32_t kv_limit;
  };
  std::vector<Pending> pending;
  for (size_t i = 0; i < slices.size(); ++i) {
    const int64_t items = slices[i].count * group;
    for (int32_t g = 0; g < layout.kv_heads; ++g) {
      for (int64_t begin = 0; begin < items; begin += tile_rows_) {
        const int64_t count = std::min<int64_t>(tile_rows_, items - begin);
        const int64_t last_token = (begin + count - 1) / group;
        pending.push_back({{static_cast<int32_t>(i), g, static_cast<int32_t>(begin), static_cast<int32_t>(count), 0},
                           static_cast<int32_t>(slices[i].start_position + last_token + 1)});
      }
    }
  }
  // A decoding sequence's context is split in chunks that depend on its own length only, so a
  // sequence gets the same result whatever else shares the batch (a prompt's tiles are not split).
  std::vector<TileWork> tiles;
  std::vector<int32_t> tile_splits;
  std::vector<BlockWork> blocks;
  partial_slots_ = 0;
  for (Pending& pt : pending) {
    const int64_t limit = pt.kv_limit;
    const bool decoding = slices[static_cast<size_t>(pt.tile.slice)].count == 1;
    int64_t chunk = limit;
    if (decoding) chunk = std::max<int64_t>((limit + kMaxSplits - 1) / kMaxSplits, kMinChunk);
    chunk = (chunk + kTileTokens - 1) / kTileTokens * kTileTokens;
    const int64_t splits = (limit + chunk - 1) / chunk;
    pt.tile.partial_base = static_cast<int32_t>(partial_slots_);
    if (splits > 1) partial_slots_ += splits * pt.tile.item_count;
    for (int64_t sp = 0; sp < splits; ++sp) {
      blocks.push_back({static_cast<int32_t>(tiles.size()), static_cast<int32_t>(sp), static_cast<int32_t>(sp * chunk),
                        static_cast<int32_t>(std::min(limit, (sp + 1) * chunk))});
    }
    tiles.push_back(pt.tile);
    tile_splits.push_back(static_cast<int32_t>(splits));
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

absl::Status AttentionPlan::Run(const void* q, const void* const* caches, void* out, GpuType out_type,
                                cudaStream_t stream) {
  const int32_t* splits = reinterpret_cast<const int32_t*>(tiles_table_.as<TileWork>() + tiles_);
  const KernelArgs args{q, caches, slices_.as<AttentionSlice>(), tiles_table_.as<TileWork>(),
                        blocks_table_.as<BlockWork>(), layout_, tile_rows_, partial_out_.f(), partial_max_.f(),
                        partial_sum_.f(), splits, out, out_type};
  const unsigned grid = static_cast<unsigned>(blocks_), threads = kAttentionWarps * 32;
  switch (cache_type_) {
    case GpuType::kF32:
      if (layout_.key_dim <= 256 && layout_.value_dim <= 256) {
        WarpAttentionKernel<8><<<grid, threads, 0, stream>>>(args);
      } else if (layout_.key_dim <= 1024 && layout_.value_dim <= 1024) {
        WarpAttentionKernel<32><<<grid, threads, 0, stream>>>(args);
      } else {
        return absl::InvalidArgumentError(fmt::format("attention dims {} / {} exceed 1024", layout_.key_dim, layout_.value_dim));
      }
      break;
    case GpuType::kBF16: RETURN_IF_ERROR(LaunchTensorCore<__nv_bfloat16>(args, blocks_, stream)); break;
    case GpuType::kF16: RETURN_IF_ERROR(LaunchTensorCore<__half>(args, blocks_, stream)); break;
  }
  if (partial_slots_ == 0) {
    CUDA_RETURN_IF_ERROR(cudaGetLastError());
    return absl::OkStatus();
  }
  const dim3 tiles(static_cast<unsigned>(tiles_), static_cast<unsigned>(tile_rows_));
  switch (out_type) {
    case GpuType::kF32: CombineKernel<float><<<tiles, 128, 0, stream>>>(args, static_cast<float*>(out)); break;
    case GpuType::kBF16: CombineKernel<__nv_bfloat16><<<tiles, 128, 0, stream>>>(args, static_cast<__nv_bfloat16*>(out)); break;
    case GpuType::kF16: CombineKernel<__half><<<tiles, 128, 0, stream>>>(args, static_cast<__half*>(out)); break;
  }
  CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return absl::OkStatus();
}

}  // namespace transmla::cuda
