// The online softmax of the warpgroup kernels that compute decode attention transposed
// (latent_attention_wgmma.cu, decode_attention_wgmma.cu): S^T sits in a WarpgroupAccumulator<N> of
// 64 cache positions (rows) by N query items (columns). Thread (warp w of its warpgroup, g = lane / 4,
// t = lane % 4) holds rows 16w + g ("low") and 16w + g + 8 ("high") of columns 8j + 2t + e, its
// column 2j + e (j < N / 8, e < 2): d[4j + e] (low) and d[4j + 2 + e] (high).
#ifndef TRANSMLA_CORE_ENGINE_CUDA_TRANSPOSED_SOFTMAX_CUH_
#define TRANSMLA_CORE_ENGINE_CUDA_TRANSPOSED_SOFTMAX_CUH_

#include "core/engine/cuda/wgmma.cuh"

namespace transmla::cuda {

template <int N>
struct TransposedSoftmax {
  static constexpr int kTiles = N / 8, kColumns = N / 4;
  // Per column (log2 domain, scores times `scale`): the running maximum and sum, and the item's
  // query position (items past the tile: the chunk's end, so they see every position).
  float run_max[kColumns], run_sum[kColumns];
  int position[kColumns];

  __device__ static int Item(int i) { return 8 * (i / 2) + 2 * (threadIdx.x % 4) + i % 2; }

  template <typename PositionOf>
  __device__ void Init(const PositionOf& position_of) {
#pragma unroll
    for (int i = 0; i < kColumns; ++i) {
      position[i] = position_of(Item(i));
      run_max[i] = -INFINITY;
      run_sum[i] = 0;
    }
  }

  // Scores of positions past their item's or at or past `end` become -inf; `low` is this thread's
  // low row's position.
  __device__ void Mask(WarpgroupAccumulator<N>& s, int low, int end) const {
    const int high = low + 8;
#pragma unroll
    for (int j = 0; j < kTiles; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        if (low > position[2 * j + e] || low >= end) s.d[4 * j + e] = -INFINITY;
        if (high > position[2 * j + e] || high >= end) s.d[4 * j + 2 + e] = -INFINITY;
      }
    }
  }

  // Each column's maximum over this warp's 16 rows into stat[item * 4 + warp] (a barrier before
  // UpdateMaxima reads them).
  __device__ static void PublishMaxima(const WarpgroupAccumulator<N>& s, float* stat) {
    float column_max[kColumns];
#pragma unroll
    for (int j = 0; j < kTiles; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) column_max[2 * j + e] = fmaxf(s.d[4 * j + e], s.d[4 * j + 2 + e]);
    }
#pragma unroll
    for (int offset = 4; offset < 32; offset *= 2) {
#pragma unroll
      for (int i = 0; i < kColumns; ++i) {
        column_max[i] = fmaxf(column_max[i], __shfl_xor_sync(0xffffffff, column_max[i], offset));
      }
    }
    Publish(column_max, stat);
  }

  // The running maxima move only when a column gains more than 2^8 (as in the prompt kernel): every
  // thread holding a column takes the same decision from the same four warp maxima. `correction`:
  // what each column's earlier sums and outputs are multiplied by; returns whether any in the warp moved.
  __device__ bool UpdateMaxima(const float* stat, float scale, float (&correction)[kColumns]) {
    bool moved = false;
#pragma unroll
    for (int i = 0; i < kColumns; ++i) {
      const float4 m = *reinterpret_cast<const float4*>(stat + Item(i) * 4);
      const float top = fmaxf(fmaxf(m.x, m.y), fmaxf(m.z, m.w)) * scale;
      correction[i] = 1.0f;
      constexpr float kRescaleLog2 = 8.0f;
      if (top > run_max[i] + kRescaleLog2) {
        const float next = fmaxf(run_max[i], top);
        correction[i] = exp2f(run_max[i] - next);
        run_max[i] = next;
        run_sum[i] *= correction[i];
        moved = true;
      }
    }
    return __any_sync(0xffffffff, moved);
  }

  // An output accumulator (value dims as rows, the same columns) times each column's correction.
  __device__ static void Rescale(WarpgroupAccumulator<N>& o, const float (&correction)[kColumns]) {
#pragma unroll
    for (int j = 0; j < kTiles; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        o.d[4 * j + e] *= correction[2 * j + e];
        o.d[4 * j + 2 + e] *= correction[2 * j + e];
      }
    }
  }

  // P^T into `probs` as T, K-major in 128-byte swizzle atoms ([N items][64 positions]: item c's row,
  // position p's 16-byte chunk p / 8), adding the probabilities to the running sums.
  template <typename T>
  __device__ void WriteProbabilities(const WarpgroupAccumulator<N>& s, float scale, unsigned char* probs) {
    const int warp = threadIdx.x % 128 / 32, g = threadIdx.x % 32 / 4, t = threadIdx.x % 4;
#pragma unroll
    for (int j = 0; j < kTiles; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int i = 2 * j + e, row = 2 * t + e;
        const float shift = run_max[i] == -INFINITY ? 0.0f : run_max[i];
        const float p_low = exp2f(fmaf(s.d[4 * j + e], scale, -shift));
        const float p_high = exp2f(fmaf(s.d[4 * j + 2 + e], scale, -shift));
        run_sum[i] += p_low + p_high;
        unsigned char* item_row = probs + j * kSwizzleAtomBytes + row * kSwizzleRowBytes + g * 2;
        *reinterpret_cast<T*>(item_row + ((2 * warp) ^ row) * 16) = static_cast<T>(p_low);
        *reinterpret_cast<T*>(item_row + ((2 * warp + 1) ^ row) * 16) = static_cast<T>(p_high);
      }
    }
  }

  // Each column's running sum over this warp's rows into stat[item * 4 + warp].
  __device__ void PublishSums(float* stat) {
#pragma unroll
    for (int offset = 4; offset < 32; offset *= 2) {
#pragma unroll
      for (int i = 0; i < kColumns; ++i) run_sum[i] += __shfl_xor_sync(0xffffffff, run_sum[i], offset);
    }
    Publish(run_sum, stat);
  }

  // The lanes of row group 0 write their columns' values (the same in every row group).
  __device__ static void Publish(const float (&v)[kColumns], float* stat) {
    if (threadIdx.x % 32 / 4 != 0) return;
#pragma unroll
    for (int i = 0; i < kColumns; ++i) stat[Item(i) * 4 + threadIdx.x % 128 / 32] = v[i];
  }
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_TRANSPOSED_SOFTMAX_CUH_
