#include "core/engine/cuda/kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

namespace transmla::cuda {
namespace {

constexpr int kThreads = 256;

int Blocks(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

__device__ __forceinline__ float Load(const void* p, GpuType t, int64_t i) {
  switch (t) {
    case GpuType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case GpuType::kF16: return __half2float(static_cast<const __half*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ void Store(void* p, GpuType t, int64_t i, float v) {
  switch (t) {
    case GpuType::kBF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v); break;
    case GpuType::kF16: static_cast<__half*>(p)[i] = __float2half(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
}

__global__ void ConvertKernel(const void* in, GpuType in_type, int64_t n, void* out, GpuType out_type) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) Store(out, out_type, i, Load(in, in_type, i));
}

__global__ void EmbeddingGatherKernel(const void* table, GpuType type, const int32_t* ids, int64_t rows, int64_t d,
                                      float* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * d) return;
  const int64_t r = i / d, c = i % d;
  out[i] = Load(table, type, static_cast<int64_t>(ids[r]) * d + c);
}

// Block-wide sum of one value per thread (blockDim.x == kThreads).
__device__ float BlockSum(float v) {
  __shared__ float partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffff, v, offset);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0;
  for (int w = 0; w < kThreads / 32; ++w) total += partial[w];
  __syncthreads();
  return total;
}

__global__ void RmsNormKernel(const float* x, int64_t x_ld, const float* weight, int64_t d, float eps, void* out,
                              GpuType out_type, int64_t out_ld) {
  const float* row = x + blockIdx.x * x_ld;
  float sum = 0;
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) sum += row[c] * row[c];
  const float inv = rsqrtf(BlockSum(sum) / static_cast<float>(d) + eps);
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
    Store(out, out_type, blockIdx.x * out_ld + c, row[c] * inv * weight[c]);
  }
}

// The same for rows of at most kThreads * kPerThread values, held in registers with their weights:
// every load is issued before the reduction, so a row costs one memory latency instead of one per
// loop trip (batch-1 decode steps run 65 of these per token). Same summation order, same result.
template <int kPerThread>
__global__ void RmsNormInRegistersKernel(const float* x, int64_t x_ld, const float* weight, int64_t d, float eps,
                                         void* out, GpuType out_type, int64_t out_ld) {
  const float* row = x + blockIdx.x * x_ld;
  float v[kPerThread], w[kPerThread];
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int64_t c = threadIdx.x + i * kThreads;
    v[i] = c < d ? row[c] : 0.0f;
    w[i] = c < d ? weight[c] : 0.0f;
  }
  float sum = 0;
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) sum += v[i] * v[i];
  const float inv = rsqrtf(BlockSum(sum) / static_cast<float>(d) + eps);
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int64_t c = threadIdx.x + i * kThreads;
    if (c < d) Store(out, out_type, blockIdx.x * out_ld + c, v[i] * inv * w[i]);
  }
}

__global__ void AddBiasKernel(float* x, const float* bias, int64_t rows, int64_t d) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < rows * d) x[i] += bias[i % d];
}

__global__ void SiluMulKernel(const float* gate_up, int64_t rows, int64_t f, void* out, GpuType out_type) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * f) return;
  const int64_t r = i / f, j = i % f;
  const float g = gate_up[r * 2 * f + j], u = gate_up[r * 2 * f + f + j];
  Store(out, out_type, i, g / (1.0f + expf(-g)) * u);
}

// Element e (relative to the rope range) of a rotated head: x[e] cos + partner sin, with the sign
// and partner of the layout.
__device__ float Rotated(const float* x, int64_t e, int64_t rope_dims, const RopeArgs& rope, int32_t position) {
  const int64_t half = rope_dims / 2;
  int64_t pair, partner;
  float sign;
  if (rope.layout == RopeLayout::kRotateHalf) {
    pair = e < half ? e : e - half;
    partner = e < half ? e + half : e - half;
    sign = e < half ? -1.0f : 1.0f;
  } else {
    pair = e / 2;
    partner = e % 2 == 0 ? e + 1 : e - 1;
    sign = e % 2 == 0 ? -1.0f : 1.0f;
  }
  // Double precision for the angle: positions times frequencies reach 1e5 radians.
  const double angle = static_cast<double>(position) * static_cast<double>(rope.inv_freq[pair]);
  const float c = static_cast<float>(cos(angle)) * rope.scale, s = static_cast<float>(sin(angle)) * rope.scale;
  return x[e] * c + sign * x[partner] * s;
}

struct HeadCopies {
  HeadCopy copy[kMaxHeadCopies];
};

__global__ void CopyHeadsKernel(HeadCopies copies, int64_t rows, RopeArgs rope) {
  const HeadCopy& copy = copies.copy[blockIdx.y];
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * copy.heads * copy.dims) return;
  const int64_t e = i % copy.dims, h = (i / copy.dims) % copy.heads, r = i / (copy.dims * copy.heads);
  const float* head = copy.in + r * copy.in_ld + h * copy.in_head_stride;
  const int64_t k = e - copy.rope_begin;
  const float v = k >= 0 && k < copy.rope_dims ? Rotated(head + copy.rope_begin, k, copy.rope_dims, rope, rope.positions[r])
                                              : head[e];
  void* base = copy.out_rows != nullptr ? copy.out_rows[r] : copy.out;
  const int64_t row_offset =
      copy.out_rows != nullptr ? static_cast<int64_t>(rope.positions[r]) * copy.out_position_stride : r * copy.out_ld;
  Store(base, copy.out_type, row_offset + copy.out_offset + h * copy.out_head_stride + e, v);
}

__global__ void BroadcastToHeadsKernel(const void* in, int64_t in_ld, int64_t rows, int64_t dims, int64_t heads,
                                       void* out, int64_t out_ld, int64_t out_head_stride, GpuType type) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * heads * dims) return;
  const int64_t r = i / (heads * dims), h = i / dims % heads, c = i % dims;
  Store(out, type, r * out_ld + h * out_head_stride + c, Load(in, type, r * in_ld + c));
}

__global__ void MlaAppendLatentKernel(const float* kv_a, int64_t kv_ld, const float* norm_weight, float eps,
                                      int64_t rank, int64_t rope_dims, void* const* caches, GpuType cache_type,
                                      int64_t token_stride, RopeArgs rope) {
  const int64_t r = blockIdx.x;
  const float* row = kv_a + r * kv_ld;
  float sum = 0;
  for (int64_t c = threadIdx.x; c < rank; c += blockDim.x) sum += row[c] * row[c];
  const float inv = rsqrtf(BlockSum(sum) / static_cast<float>(rank) + eps);
  const int64_t base = static_cast<int64_t>(rope.positions[r]) * token_stride;
  for (int64_t c = threadIdx.x; c < rank; c += blockDim.x) Store(caches[r], cache_type, base + c, row[c] * inv * norm_weight[c]);
  for (int64_t e = threadIdx.x; e < rope_dims; e += blockDim.x) {
    Store(caches[r], cache_type, base + rank + e, Rotated(row + rank, e, rope_dims, rope, rope.positions[r]));
  }
}

}  // namespace

void Convert(const void* in, GpuType in_type, int64_t n, void* out, GpuType out_type, cudaStream_t s) {
  ConvertKernel<<<Blocks(n), kThreads, 0, s>>>(in, in_type, n, out, out_type);
}

void EmbeddingGather(const void* table, GpuType table_type, const int32_t* ids, int64_t rows, int64_t d, float* out,
                     cudaStream_t s) {
  EmbeddingGatherKernel<<<Blocks(rows * d), kThreads, 0, s>>>(table, table_type, ids, rows, d, out);
}

void RmsNorm(const float* x, int64_t x_ld, const float* weight, int64_t rows, int64_t d, float eps, void* out,
             GpuType out_type, int64_t out_ld, cudaStream_t s) {
  const unsigned blocks = static_cast<unsigned>(rows);
  if (d <= 4 * kThreads) {
    RmsNormInRegistersKernel<4><<<blocks, kThreads, 0, s>>>(x, x_ld, weight, d, eps, out, out_type, out_ld);
  } else if (d <= 16 * kThreads) {
    RmsNormInRegistersKernel<16><<<blocks, kThreads, 0, s>>>(x, x_ld, weight, d, eps, out, out_type, out_ld);
  } else if (d <= 32 * kThreads) {
    RmsNormInRegistersKernel<32><<<blocks, kThreads, 0, s>>>(x, x_ld, weight, d, eps, out, out_type, out_ld);
  } else {
    RmsNormKernel<<<blocks, kThreads, 0, s>>>(x, x_ld, weight, d, eps, out, out_type, out_ld);
  }
}

void AddBias(float* x, const float* bias, int64_t rows, int64_t d, cudaStream_t s) {
  AddBiasKernel<<<Blocks(rows * d), kThreads, 0, s>>>(x, bias, rows, d);
}

void SiluMul(const float* gate_up, int64_t rows, int64_t f, void* out, GpuType out_type, cudaStream_t s) {
  SiluMulKernel<<<Blocks(rows * f), kThreads, 0, s>>>(gate_up, rows, f, out, out_type);
}

void CopyHeadsWithRope(std::initializer_list<HeadCopy> copies, int64_t rows, const RopeArgs& rope, cudaStream_t s) {
  HeadCopies all{};
  int64_t widest = 0, count = 0;
  for (const HeadCopy& c : copies) {
    all.copy[count++] = c;
    widest = std::max(widest, c.heads * c.dims);
  }
  const dim3 grid(static_cast<unsigned>(Blocks(rows * widest)), static_cast<unsigned>(count));
  CopyHeadsKernel<<<grid, kThreads, 0, s>>>(all, rows, rope);
}

void BroadcastToHeads(const void* in, int64_t in_ld, int64_t rows, int64_t dims, int64_t heads, void* out,
                      int64_t out_ld, int64_t out_head_stride, GpuType type, cudaStream_t s) {
  BroadcastToHeadsKernel<<<Blocks(rows * heads * dims), kThreads, 0, s>>>(in, in_ld, rows, dims, heads, out, out_ld,
                                                                         out_head_stride, type);
}

void MlaAppendLatent(const float* kv_a, int64_t kv_ld, const float* norm_weight, float eps, int64_t rows,
                     int64_t rank, int64_t rope_dims, void* const* caches, GpuType cache_type, int64_t token_stride,
                     const RopeArgs& rope, cudaStream_t s) {
  MlaAppendLatentKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(kv_a, kv_ld, norm_weight, eps, rank,
                                                                         rope_dims, caches, cache_type, token_stride,
                                                                         rope);
}

}  // namespace transmla::cuda
