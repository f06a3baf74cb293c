#include "core/engine/cuda/skinny_gemm.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/launch.cuh"
#include "core/engine/cuda/mma.cuh"

namespace transmla::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kChunk = 32;   // k values per chunk: two mma k-steps
// Chunks whose loads a warp has in flight at once. H200, 8B GQA, batch 1 / 8 x 1K, one call: 2
// ran 209-212 / 1490-1511 tok/s against 4's 197-200 / 1366-1374; no other shape tried (1 to 16
// chunks, 4 to 16 warps) did better. With 4, ncu had the 256- and 384-block GEMMs (o_proj, down,
// qkv) reading at 2.8 TB/s.
constexpr int kUnroll = 2;

// One product of the batch: blockIdx.y's operands start batch strides (elements) apart.
template <typename T, typename Out>
struct SkinnyBatch {
  const T* x;
  int64_t x_ld, x_stride;
  const T* w;
  int64_t w_ld, w_stride;
  Out* y;
  int64_t y_ld, y_stride;
};

// A block computes 16 outputs for every row (mma's n = 8 columns hold the rows); its warps take
// interleaved 32-wide chunks of the k dim and add their results at the end. Within a chunk the k
// order is permuted, identically for W and X (a dot product does not care): lane (g = lane / 4,
// t = lane % 4) loads k values [8t, 8t + 8) of W rows g and g + 8 and of X row g as 16-byte vectors,
// whose first half is the A and B fragments of k-step 0 and second half those of k-step 1. So W
// streams from global memory in full 32-byte sectors with no shared-memory staging.
template <typename T, typename Out>
__global__ void __launch_bounds__(kWarps * 32) SkinnyGemmKernel(SkinnyBatch<T, Out> b, int rows, int in, int out,
                                                                 float beta) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int first_row = blockIdx.x * 16;
  const T* x = b.x + blockIdx.y * b.x_stride;
  const T* w = b.w + blockIdx.y * b.w_stride;
  Out* y = b.y + blockIdx.y * b.y_stride;
  const int64_t x_ld = b.x_ld, w_ld = b.w_ld, y_ld = b.y_ld;
  // Rows past `out` re-read the last row; their results are dropped.
  const T* w_low = w + static_cast<int64_t>(min(first_row + g, out - 1)) * w_ld + 8 * t;
  const T* w_high = w + static_cast<int64_t>(min(first_row + g + 8, out - 1)) * w_ld + 8 * t;
  const bool has_x = g < rows;
  const T* x_row = x + static_cast<int64_t>(has_x ? g : 0) * x_ld + 8 * t;
  const int chunks = in / kChunk;

  Accumulator acc = {{0, 0, 0, 0}};
  for (int c0 = warp; c0 < chunks; c0 += kWarps * kUnroll) {
    uint4 lo[kUnroll], hi[kUnroll], xv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + u * kWarps;
      const bool in_range = c < chunks;
      lo[u] = in_range ? __ldcs(reinterpret_cast<const uint4*>(w_low + c * kChunk)) : make_uint4(0, 0, 0, 0);
      hi[u] = in_range ? __ldcs(reinterpret_cast<const uint4*>(w_high + c * kChunk)) : make_uint4(0, 0, 0, 0);
    }
    // The weights are the model's, never written by a step's kernels: the first ones are requested
    // before waiting for the previous kernel's writes, which only X needs.
    if (c0 == warp) WaitForPreviousKernel();
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + u * kWarps;
      xv[u] = has_x && c < chunks ? __ldg(reinterpret_cast<const uint4*>(x_row + c * kChunk)) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const uint32_t a0[4] = {lo[u].x, hi[u].x, lo[u].y, hi[u].y};
      const uint32_t a1[4] = {lo[u].z, hi[u].z, lo[u].w, hi[u].w};
      Mma16816<T>(acc, a0, xv[u].x, xv[u].y);
      Mma16816<T>(acc, a1, xv[u].z, xv[u].w);
    }
  }

  WaitForPreviousKernel();  // a warp without chunks still writes Y below
  __shared__ float partial[kWarps][4][32];
#pragma unroll
  for (int i = 0; i < 4; ++i) partial[warp][i][lane] = acc.c[i];
  __syncthreads();
  if (warp != 0) return;
  // acc.c[i]: output row g + 8 (i / 2), X row 2t + i % 2.
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float sum = 0;
#pragma unroll
    for (int v = 0; v < kWarps; ++v) sum += partial[v][i][lane];
    const int o = first_row + g + 8 * (i / 2), r = 2 * t + i % 2;
    if (o >= out || r >= rows) continue;
    Out* dst = y + static_cast<int64_t>(r) * y_ld + o;
    if constexpr (std::is_same_v<Out, float>) {
      *dst = beta == 0.0f ? sum : sum + beta * *dst;
    } else {
      *dst = static_cast<Out>(sum);
    }
  }
}

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T, typename Out>
void LaunchSkinny(const Operand& x, const Operand& w, const Output& y, int rows, int in, int out, float beta,
                  int64_t batch, cudaStream_t stream) {
  const dim3 blocks(static_cast<unsigned>((out + 15) / 16), static_cast<unsigned>(batch));
  const SkinnyBatch<T, Out> b{static_cast<const T*>(x.data), x.ld, x.stride, static_cast<const T*>(w.data), w.ld,
                              w.stride, static_cast<Out*>(y.data), y.ld, y.stride};
  Launch(SkinnyGemmKernel<T, Out>, blocks, kWarps * 32, 0, stream, b, rows, in, out, beta);
}

template <typename T>
void LaunchSkinny(const Operand& x, const Operand& w, const Output& y, int rows, int in, int out, float beta,
                  int64_t batch, cudaStream_t stream) {
  if (y.type == GpuType::kF32) {
    LaunchSkinny<T, float>(x, w, y, rows, in, out, beta, batch, stream);
  } else {
    LaunchSkinny<T, T>(x, w, y, rows, in, out, beta, batch, stream);
  }
}

}  // namespace

bool SkinnyGemmApplies(const Operand& x, const Operand& w, const Output& y, int64_t rows, int64_t in, float beta) {
  const bool y_ok = y.type == GpuType::kF32 || (y.type == x.type && beta == 0.0f);
  return x.type == w.type && x.type != GpuType::kF32 && y_ok && rows >= 1 && rows <= kSkinnyRows &&
         in % kChunk == 0 && x.ld % 8 == 0 && w.ld % 8 == 0 && x.stride % 8 == 0 && w.stride % 8 == 0 &&
         Aligned16(x.data) && Aligned16(w.data);
}

absl::Status SkinnyGemm(const Operand& x, const Operand& w, int64_t rows, int64_t in, int64_t out, const Output& y,
                        float beta, int64_t batch, cudaStream_t stream) {
  const int r = static_cast<int>(rows), k = static_cast<int>(in), n = static_cast<int>(out);
  if (x.type == GpuType::kBF16) {
    LaunchSkinny<__nv_bfloat16>(x, w, y, r, k, n, beta, batch, stream);
  } else {
    LaunchSkinny<__half>(x, w, y, r, k, n, beta, batch, stream);
  }
  CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return absl::OkStatus();
}

}  // namespace transmla::cuda
