#include "core/engine/cuda/prefill_attention.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include "core/engine/cuda/attention_kernels.cuh"
#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/launch.cuh"
#include "core/engine/cuda/mma.cuh"
#include "core/util/status_macros.h"

namespace transmla::cuda {
namespace {

template <typename T>
__device__ __forceinline__ uint32_t PackPair(float low, float high);

template <>
__device__ __forceinline__ uint32_t PackPair<__nv_bfloat16>(float low, float high) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(low, high);
  return *reinterpret_cast<const uint32_t*>(&v);
}

template <>
__device__ __forceinline__ uint32_t PackPair<__half>(float low, float high) {
  const __half2 v = __floats2half2_rn(low, high);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Two buffers each of keys and values, then the query tile's staging rows (they then live in
// registers).
template <int kWarps, int Dk, int Dv>
struct PrefillShape {
  static constexpr int M = 16 * kWarps, N = kTileTokens;
  static constexpr int ldk = Dk + 8, ldv = Dv + 8;  // 16 bytes of padding: ldmatrix rows in different banks
  static constexpr size_t Elements() { return 2 * N * ldk + 2 * N * ldv + M * ldk; }
};

// One block per tile of kPrefillTileRows (token, head) items of a prompt, against the cache
// positions [kv_begin, kv_end) in steps of kTileTokens, the next step's keys and values loading
// asynchronously meanwhile. Per step a warp computes its 16 x 64 scores on tensor cores into
// registers, applies the causal mask and the online softmax there (a row's 4 lanes exchange their
// maxima and sums by shuffles), and feeds the probabilities, repacked as 16-bit A fragments, straight
// into P.V. The same arithmetic per row as any other tile: results do not depend on the batch.
template <typename T, int kWarps, int Dk, int Dv>
__global__ void __launch_bounds__(kWarps * 32)
    PrefillAttentionKernel(KernelArgs a) {
  WaitForPreviousKernel();
  using Shape = PrefillShape<kWarps, Dk, Dv>;
  constexpr int M = Shape::M, N = Shape::N, ldk = Shape::ldk, ldv = Shape::ldv;
  extern __shared__ __align__(128) unsigned char smem[];
  T* ks = reinterpret_cast<T*>(smem);  // 2 x [N x Dk]
  T* vs = ks + 2 * N * ldk;            // 2 x [N x Dv]
  T* qs = vs + 2 * N * ldv;            // [M x Dk]
  const BlockWork block = a.blocks[blockIdx.x];
  const TileWork tile = a.tiles[block.tile];
  const AttentionLayout& l = a.layout;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const T* cache = static_cast<const T*>(a.caches[tile.slice]);
  const int kv_begin = block.kv_begin, kv_end = block.kv_end;

  constexpr int kVec = 8;  // 16 bytes of T
  for (int idx = threadIdx.x; idx < M * (Dk / kVec); idx += kWarps * 32) {
    const int k = idx / (Dk / kVec), c = idx % (Dk / kVec) * kVec;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (k < tile.item_count) {
      const Item it = ItemOf(a, tile, k);
      v = *reinterpret_cast<const uint4*>(static_cast<const T*>(a.q) + (it.row * l.heads + it.head) * l.query_head_stride + c);
    }
    *reinterpret_cast<uint4*>(qs + k * ldk + c) = v;
  }
  auto load_tile = [&](int t0, int buffer) {
    T* kd = ks + buffer * N * ldk;
    T* vd = vs + buffer * N * ldv;
    const int64_t key_offset = tile.kv_head * l.key_head_stride;
    const int64_t value_offset = l.value_offset + tile.kv_head * l.value_head_stride;
    for (int idx = threadIdx.x; idx < N * (Dk / kVec); idx += kWarps * 32) {
      const int n = idx / (Dk / kVec), c = idx % (Dk / kVec) * kVec;
      if (t0 + n < kv_end) {
        __pipeline_memcpy_async(kd + n * ldk + c, cache + static_cast<int64_t>(t0 + n) * l.token_stride + key_offset + c, 16);
      } else {
        *reinterpret_cast<uint4*>(kd + n * ldk + c) = make_uint4(0, 0, 0, 0);
      }
    }
    for (int idx = threadIdx.x; idx < N * (Dv / kVec); idx += kWarps * 32) {
      const int n = idx / (Dv / kVec), c = idx % (Dv / kVec) * kVec;
      // Zeros past the end, not stale data: a zero probability times a NaN would still be NaN.
      if (t0 + n < kv_end) {
        __pipeline_memcpy_async(vd + n * ldv + c, cache + static_cast<int64_t>(t0 + n) * l.token_stride + value_offset + c, 16);
      } else {
        *reinterpret_cast<uint4*>(vd + n * ldv + c) = make_uint4(0, 0, 0, 0);
      }
    }
    __pipeline_commit();
  };

  // This lane's two rows (g and g + 8 of the warp's 16). Rows past the tile's items attend to
  // position 0 only: finite, and never written.
  const int k_low = warp * 16 + lane / 4, k_high = k_low + 8;
  const int pos_low = k_low < tile.item_count ? ItemOf(a, tile, k_low).position : 0;
  const int pos_high = k_high < tile.item_count ? ItemOf(a, tile, k_high).position : 0;
  int warp_first = min(pos_low, pos_high), warp_last = max(pos_low, pos_high);
  for (int offset = 16; offset > 0; offset /= 2) {
    warp_first = min(warp_first, __shfl_xor_sync(0xffffffff, warp_first, offset));
    warp_last = max(warp_last, __shfl_xor_sync(0xffffffff, warp_last, offset));
  }

  const int steps = kv_end > kv_begin ? (kv_end - kv_begin + N - 1) / N : 0;
  if (steps > 0) load_tile(kv_begin, 0);
  __syncthreads();
  uint32_t qa[Dk / 16][4];
#pragma unroll
  for (int kk = 0; kk < Dk / 16; ++kk) LoadA(qa[kk], qs + warp * 16 * ldk + kk * 16, ldk);

  Accumulator o[Dv / 8];
#pragma unroll
  for (int j = 0; j < Dv / 8; ++j) o[j] = {{0, 0, 0, 0}};
  float max_low = -INFINITY, max_high = -INFINITY, sum_low = 0, sum_high = 0;
  const float scale = l.scale * kLog2e;
  for (int step = 0; step < steps; ++step) {
    const int t0 = kv_begin + step * N, buffer = step & 1;
    __pipeline_wait_prior(0);
    // Also: every warp is done with the other buffer, read in the last step.
    __syncthreads();
    if (step + 1 < steps) load_tile(t0 + N, buffer ^ 1);
    if (t0 > warp_last) continue;  // past every row of this warp (warp-uniform; no barrier follows)
    const T* kt = ks + buffer * N * ldk;
    const T* vt = vs + buffer * N * ldv;

    Accumulator s[N / 8];
#pragma unroll
    for (int j = 0; j < N / 8; ++j) s[j] = {{0, 0, 0, 0}};
#pragma unroll
    for (int kk = 0; kk < Dk / 16; ++kk) {
#pragma unroll
      for (int j = 0; j < N / 16; ++j) {
        uint32_t kb[4];
        LoadBFromRows(kb, kt + j * 16 * ldk + kk * 16, ldk);
        Mma16816<T>(s[2 * j], qa[kk], kb[0], kb[1]);
        Mma16816<T>(s[2 * j + 1], qa[kk], kb[2], kb[3]);
      }
    }
    const bool masked = t0 + N - 1 > warp_first || t0 + N > kv_end;
    float tile_low = -INFINITY, tile_high = -INFINITY;
#pragma unroll
    for (int j = 0; j < N / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int key = t0 + 8 * j + 2 * (lane % 4) + e;
        float low = s[j].c[e] * scale, high = s[j].c[2 + e] * scale;
        if (masked) {
          if (key > pos_low || key >= kv_end) low = -INFINITY;
          if (key > pos_high || key >= kv_end) high = -INFINITY;
        }
        s[j].c[e] = low;
        s[j].c[2 + e] = high;
        tile_low = fmaxf(tile_low, low);
        tile_high = fmaxf(tile_high, high);
      }
    }
    for (int offset = 1; offset < 4; offset *= 2) {
      tile_low = fmaxf(tile_low, __shfl_xor_sync(0xffffffff, tile_low, offset));
      tile_high = fmaxf(tile_high, __shfl_xor_sync(0xffffffff, tile_high, offset));
    }
    // Every row sees position kv_begin = 0 in its first step, so the new maxima are finite.
    const float new_low = fmaxf(max_low, tile_low), new_high = fmaxf(max_high, tile_high);
    const float corr_low = exp2f(max_low - new_low), corr_high = exp2f(max_high - new_high);
    max_low = new_low;
    max_high = new_high;
    float add_low = 0, add_high = 0;
#pragma unroll
    for (int j = 0; j < N / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        s[j].c[e] = exp2f(s[j].c[e] - new_low);
        s[j].c[2 + e] = exp2f(s[j].c[2 + e] - new_high);
        add_low += s[j].c[e];
        add_high += s[j].c[2 + e];
      }
    }
    sum_low = sum_low * corr_low + add_low;  // this lane's columns; the row's 4 lanes add up at the end
    sum_high = sum_high * corr_high + add_high;
#pragma unroll
    for (int j = 0; j < Dv / 8; ++j) ScaleRows(o[j], corr_low, corr_high);
#pragma unroll
    for (int kk = 0; kk < N / 16; ++kk) {
      // The accumulators of score tiles 2kk and 2kk + 1 are exactly the A fragment of P's 16 x 16 block kk.
      const uint32_t pa[4] = {PackPair<T>(s[2 * kk].c[0], s[2 * kk].c[1]), PackPair<T>(s[2 * kk].c[2], s[2 * kk].c[3]),
                              PackPair<T>(s[2 * kk + 1].c[0], s[2 * kk + 1].c[1]),
                              PackPair<T>(s[2 * kk + 1].c[2], s[2 * kk + 1].c[3])};
#pragma unroll
      for (int j = 0; j < Dv / 16; ++j) {
        uint32_t vb[4];
        LoadBFromColumns(vb, vt + kk * 16 * ldv, ldv, 16 * j, 16 * j + 8);
        Mma16816<T>(o[2 * j], pa, vb[0], vb[1]);
        Mma16816<T>(o[2 * j + 1], pa, vb[2], vb[3]);
      }
    }
  }

  StoreNormalizedRows<Dv>(a, tile, k_low, k_high, sum_low, sum_high,
                          [&](int j, int i) { return o[j].c[i]; });
}

template <typename T, int Dk, int Dv>
absl::StatusOr<TensorCoreLaunch> Configure(const AttentionDeviceLimits& limits) {
  constexpr int kWarps = kPrefillTileRows / 16;
  return ConfigureLaunch(reinterpret_cast<const void*>(PrefillAttentionKernel<T, kWarps, Dk, Dv>), kWarps * 32,
                         PrefillShape<kWarps, Dk, Dv>::Elements() * sizeof(T), limits, kPrefillTileRows);
}

// The (key, value) dims compiled: Llama heads of 64 and 128, and MLA prompts (nope + rope keys).
template <typename T>
absl::StatusOr<TensorCoreLaunch> ForDims(int64_t key_dim, int64_t value_dim, const AttentionDeviceLimits& limits) {
  if (key_dim == 64 && value_dim == 64) return Configure<T, 64, 64>(limits);
  if (key_dim == 96 && value_dim == 64) return Configure<T, 96, 64>(limits);
  if (key_dim == 128 && value_dim == 64) return Configure<T, 128, 64>(limits);
  if (key_dim == 128 && value_dim == 128) return Configure<T, 128, 128>(limits);
  if (key_dim == 192 && value_dim == 128) return Configure<T, 192, 128>(limits);
  return TensorCoreLaunch{};
}

}  // namespace

absl::StatusOr<TensorCoreLaunch> ChoosePrefillAttention(GpuType cache_type, const AttentionLayout& layout,
                                                        const AttentionDeviceLimits& limits) {
  ASSIGN_OR_RETURN(const TensorCoreLaunch wgmma, ChoosePrefillWgmma(cache_type, layout, limits));
  if (wgmma.kernel != nullptr) return wgmma;
  switch (cache_type) {
    case GpuType::kBF16: return ForDims<__nv_bfloat16>(layout.key_dim, layout.value_dim, limits);
    case GpuType::kF16: return ForDims<__half>(layout.key_dim, layout.value_dim, limits);
    default: return TensorCoreLaunch{};
  }
}

}  // namespace transmla::cuda
