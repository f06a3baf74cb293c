#include "core/engine/cuda/kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "core/engine/cuda/launch.cuh"

namespace transmla::cuda {
namespace {

constexpr int kThreads = 256;

int Blocks(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

// Row-wise elementwise kernels: blockIdx.x covers a row's `cols`, blockIdx.y (striding by gridDim.y)
// its rows, so no thread divides a 64-bit flat index (tens of instructions each on a GPU; the prompt
// copies spent more time on that than on memory).
constexpr int64_t kMaxGridRows = 65535;
dim3 RowGrid(int64_t cols, int64_t rows, int64_t z = 1) {
  return dim3(static_cast<unsigned>(Blocks(cols)), static_cast<unsigned>(std::min(rows, kMaxGridRows)),
              static_cast<unsigned>(z));
}

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
  WaitForPreviousKernel();
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) Store(out, out_type, i, Load(in, in_type, i));
}

__global__ void TransposeKernel(const void* in, int64_t in_stride, int64_t rows, int64_t cols, GpuType type,
                                void* out) {
  WaitForPreviousKernel();
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;  // in matrix blockIdx.y of out
  if (i >= rows * cols) return;
  const int64_t c = i / rows, r = i % rows;
  Store(out, type, blockIdx.y * rows * cols + i, Load(in, type, blockIdx.y * in_stride + r * cols + c));
}

__global__ void EmbeddingGatherKernel(const void* table, GpuType type, const int32_t* ids, int64_t rows, int64_t d,
                                      float* out) {
  WaitForPreviousKernel();
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= d) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    out[r * d + c] = Load(table, type, static_cast<int64_t>(ids[r]) * d + c);
  }
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

// out[out_base + c] = RMSNorm(row)[c] * weight[c] for c < d, by the whole block.
__device__ void NormalizeRow(const float* row, int64_t d, const float* weight, float eps, void* out, GpuType out_type,
                             int64_t out_base) {
  float sum = 0;
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) sum += row[c] * row[c];
  const float inv = rsqrtf(BlockSum(sum) / static_cast<float>(d) + eps);
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) Store(out, out_type, out_base + c, row[c] * inv * weight[c]);
}

__global__ void RmsNormKernel(const float* x, int64_t x_ld, const float* weight, int64_t d, float eps, void* out,
                              GpuType out_type, int64_t out_ld) {
  WaitForPreviousKernel();
  NormalizeRow(x + blockIdx.x * x_ld, d, weight, eps, out, out_type, blockIdx.x * out_ld);
}

// The same for rows of at most kThreads * kPerThread values, held in registers with their weights:
// every load is issued before the reduction, so a row costs one memory latency instead of one per
// loop trip (batch-1 decode steps run 65 of these per token). Same summation order, same result.
template <int kPerThread>
__global__ void RmsNormInRegistersKernel(const float* x, int64_t x_ld, const float* weight, int64_t d, float eps,
                                         void* out, GpuType out_type, int64_t out_ld) {
  WaitForPreviousKernel();
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
  WaitForPreviousKernel();
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= d) return;
  const float b = bias[c];
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) x[r * d + c] += b;
}

__device__ __forceinline__ float SiluTimes(float g, float u) { return g / (1.0f + expf(-g)) * u; }

__global__ void SiluMulKernel(const float* gate_up, int64_t rows, int64_t f, void* out, GpuType out_type) {
  WaitForPreviousKernel();
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (j >= f) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    Store(out, out_type, r * f + j, SiluTimes(gate_up[r * 2 * f + j], gate_up[r * 2 * f + f + j]));
  }
}

// The same, 4 columns per thread (f a multiple of 4): 16-byte loads put enough bytes in flight to
// stream at memory speed (the one-float version reached about half of it on an H200).
__global__ void SiluMulBy4Kernel(const float4* gate_up, int64_t rows, int64_t f4, void* out, GpuType out_type) {
  WaitForPreviousKernel();
  const int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (j >= f4) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const float4 g = gate_up[r * 2 * f4 + j], u = gate_up[r * 2 * f4 + f4 + j];
    const int64_t o = 4 * (r * f4 + j);
    Store(out, out_type, o, SiluTimes(g.x, u.x));
    Store(out, out_type, o + 1, SiluTimes(g.y, u.y));
    Store(out, out_type, o + 2, SiluTimes(g.z, u.z));
    Store(out, out_type, o + 3, SiluTimes(g.w, u.w));
  }
}

// Element e (relative to the rope range) of a rotated head: x[e] cos + partner sin, with the sign
// and partner of the layout.
__device__ float Rotated(const float* x, int64_t e, int64_t rope_dims, const RopeArgs& rope, int64_t row) {
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
  const float2 cs = rope.angles[row * rope.pairs + pair];
  return x[e] * cs.x + sign * x[partner] * cs.y;
}

__global__ void RopeAnglesKernel(const float* inv_freq, int64_t pairs, const int32_t* positions, int64_t rows,
                                 float scale, float2* angles) {
  WaitForPreviousKernel();
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= pairs) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    // Double precision for the angle: positions times frequencies reach 1e5 radians.
    double s, c;
    sincos(static_cast<double>(positions[r]) * static_cast<double>(inv_freq[i]), &s, &c);
    angles[r * pairs + i] = make_float2(static_cast<float>(c) * scale, static_cast<float>(s) * scale);
  }
}

struct HeadCopies {
  HeadCopy copy[kMaxHeadCopies];
  int blocks[kMaxHeadCopies];  // blockIdx.x runs over each copy's blocks in turn
  int count;
  int copy_blocks;  // all copies' blocks; the latent append's follow
};

// Rows per block of CopyHeadsKernel, their loads issued before their stores. H200, 8B GQA, one call:
// 8K-token prompts 30285 -> 30755 tok/s against one row a block, decode at batch 1 and 8 level. (One
// row a block with every copy as wide as the widest, before: 393K blocks a layer, half of them
// empty, 373 us at 0.8 TB/s in ncu.)
constexpr int kCopyRows = 8;

__device__ void AppendLatentRow(const LatentAppend& a, int64_t r, const RopeArgs& rope) {
  const float* row = a.kv_a + r * a.kv_ld;
  const int64_t base = static_cast<int64_t>(rope.positions[r]) * a.token_stride;
  NormalizeRow(row, a.rank, a.norm_weight, a.eps, a.caches[r], a.cache_type, base);
  for (int64_t e = threadIdx.x; e < a.rope_dims; e += blockDim.x) {
    Store(a.caches[r], a.cache_type, base + a.rank + e, Rotated(row + a.rank, e, a.rope_dims, rope, r));
  }
}

__global__ void CopyHeadsKernel(HeadCopies copies, int64_t rows, RopeArgs rope, LatentAppend latent) {
  WaitForPreviousKernel();
  if (static_cast<int>(blockIdx.x) >= copies.copy_blocks) {  // latent block k takes row k of each group
    const int64_t k = blockIdx.x - copies.copy_blocks;
    for (int64_t first = blockIdx.y * kCopyRows; first + k < rows; first += gridDim.y * kCopyRows) {
      AppendLatentRow(latent, first + k, rope);
    }
    return;
  }
  int c = 0, block = static_cast<int>(blockIdx.x);
  while (c + 1 < copies.count && block >= copies.blocks[c]) block -= copies.blocks[c++];
  const HeadCopy& copy = copies.copy[c];
  const int j = block * blockDim.x + threadIdx.x, dims = static_cast<int>(copy.dims);
  if (j >= copy.heads * dims) return;
  const int h = j / dims, e = j - h * dims;
  const int64_t k = e - copy.rope_begin;
  const bool rotated = k >= 0 && k < copy.rope_dims;
  for (int64_t first = blockIdx.y * kCopyRows; first < rows; first += gridDim.y * kCopyRows) {
    float v[kCopyRows];
#pragma unroll
    for (int i = 0; i < kCopyRows; ++i) {
      const int64_t r = first + i;
      if (r >= rows) break;
      const float* head = copy.in + r * copy.in_ld + h * copy.in_head_stride;
      v[i] = rotated ? Rotated(head + copy.rope_begin, k, copy.rope_dims, rope, r) : head[e];
    }
#pragma unroll
    for (int i = 0; i < kCopyRows; ++i) {
      const int64_t r = first + i;
      if (r >= rows) break;
      void* base = copy.out_rows != nullptr ? copy.out_rows[r] : copy.out;
      const int64_t row_offset = copy.out_rows != nullptr
                                     ? static_cast<int64_t>(rope.positions[r]) * copy.out_position_stride
                                     : r * copy.out_ld;
      Store(base, copy.out_type, row_offset + copy.out_offset + h * copy.out_head_stride + e, v[i]);
    }
  }
}

__global__ void BroadcastToHeadsKernel(const void* in, int64_t in_ld, int64_t rows, int dims, int heads, void* out,
                                       int64_t out_ld, int64_t out_head_stride, GpuType type) {
  WaitForPreviousKernel();
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= heads * dims) return;
  const int h = j / dims, c = j - h * dims;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    Store(out, type, r * out_ld + h * out_head_stride + c, Load(in, type, r * in_ld + c));
  }
}

// One warp per row.
__global__ void CausalSoftmaxKernel(float* scores, int64_t rows, int64_t n, float scale) {
  WaitForPreviousKernel();
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  if (r >= rows) return;
  const int lane = threadIdx.x % 32;
  float* row = scores + r * n;
  const int64_t valid = r % n + 1;
  float max = -INFINITY;
  for (int64_t j = lane; j < valid; j += 32) max = fmaxf(max, row[j] * scale);
  for (int offset = 16; offset > 0; offset /= 2) max = fmaxf(max, __shfl_xor_sync(0xffffffff, max, offset));
  float sum = 0;
  for (int64_t j = lane; j < valid; j += 32) {
    const float e = expf(row[j] * scale - max);
    row[j] = e;
    sum += e;
  }
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffff, sum, offset);
  const float inv = 1.0f / sum;
  for (int64_t j = lane; j < n; j += 32) row[j] = j < valid ? row[j] * inv : 0.0f;
}

__global__ void AddToDoubleKernel(const float* values, int64_t count, double* sums) {
  WaitForPreviousKernel();
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < count) sums[i] += values[i];
}

}  // namespace

void CausalSoftmaxRows(float* scores, int64_t rows, int64_t n, float scale, cudaStream_t s) {
  constexpr int64_t kRowsPerBlock = kThreads / 32;
  Launch(CausalSoftmaxKernel, static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), kThreads, 0, s,
         scores, rows, n, scale);
}

void AddToDouble(const float* values, int64_t count, double* sums, cudaStream_t s) {
  Launch(AddToDoubleKernel, Blocks(count), kThreads, 0, s, values, count, sums);
}

void Convert(const void* in, GpuType in_type, int64_t n, void* out, GpuType out_type, cudaStream_t s) {
  Launch(ConvertKernel, Blocks(n), kThreads, 0, s, in, in_type, n, out, out_type);
}

void Transpose(const void* in, int64_t in_stride, int64_t matrices, int64_t rows, int64_t cols, GpuType type, void* out,
               cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>(Blocks(rows * cols)), static_cast<unsigned>(matrices));
  Launch(TransposeKernel, grid, kThreads, 0, s, in, in_stride, rows, cols, type, out);
}

void EmbeddingGather(const void* table, GpuType table_type, const int32_t* ids, int64_t rows, int64_t d, float* out,
                     cudaStream_t s) {
  Launch(EmbeddingGatherKernel, RowGrid(d, rows), kThreads, 0, s, table, table_type, ids, rows, d, out);
}

void RmsNorm(const float* x, int64_t x_ld, const float* weight, int64_t rows, int64_t d, float eps, void* out,
             GpuType out_type, int64_t out_ld, cudaStream_t s) {
  const unsigned blocks = static_cast<unsigned>(rows);
  if (d <= 4 * kThreads) {
    Launch(RmsNormInRegistersKernel<4>, blocks, kThreads, 0, s, x, x_ld, weight, d, eps, out, out_type, out_ld);
  } else if (d <= 16 * kThreads) {
    Launch(RmsNormInRegistersKernel<16>, blocks, kThreads, 0, s, x, x_ld, weight, d, eps, out, out_type, out_ld);
  } else if (d <= 32 * kThreads) {
    Launch(RmsNormInRegistersKernel<32>, blocks, kThreads, 0, s, x, x_ld, weight, d, eps, out, out_type, out_ld);
  } else {
    Launch(RmsNormKernel, blocks, kThreads, 0, s, x, x_ld, weight, d, eps, out, out_type, out_ld);
  }
}

void AddBias(float* x, const float* bias, int64_t rows, int64_t d, cudaStream_t s) {
  Launch(AddBiasKernel, RowGrid(d, rows), kThreads, 0, s, x, bias, rows, d);
}

void SiluMul(const float* gate_up, int64_t rows, int64_t f, void* out, GpuType out_type, cudaStream_t s) {
  if (f % 4 == 0) {
    Launch(SiluMulBy4Kernel, RowGrid(f / 4, rows), kThreads, 0, s, reinterpret_cast<const float4*>(gate_up), rows,
           f / 4, out, out_type);
  } else {
    Launch(SiluMulKernel, RowGrid(f, rows), kThreads, 0, s, gate_up, rows, f, out, out_type);
  }
}

void CopyHeadsWithRope(std::initializer_list<HeadCopy> copies, int64_t rows, const RopeArgs& rope, cudaStream_t s,
                       const LatentAppend* latent) {
  HeadCopies all{};
  for (const HeadCopy& c : copies) {
    all.copy[all.count] = c;
    all.copy_blocks += all.blocks[all.count++] = Blocks(c.heads * c.dims);
  }
  const int64_t latent_blocks = latent != nullptr ? std::min<int64_t>(rows, kCopyRows) : 0;
  const dim3 grid(static_cast<unsigned>(all.copy_blocks + latent_blocks),
                  static_cast<unsigned>(std::min((rows + kCopyRows - 1) / kCopyRows, kMaxGridRows)));
  Launch(CopyHeadsKernel, grid, kThreads, 0, s, all, rows, rope, latent != nullptr ? *latent : LatentAppend{});
}

void RopeAngles(const float* inv_freq, int64_t pairs, const int32_t* positions, int64_t rows, float scale,
                float2* angles, cudaStream_t s) {
  Launch(RopeAnglesKernel, RowGrid(pairs, rows), kThreads, 0, s, inv_freq, pairs, positions, rows, scale, angles);
}

void BroadcastToHeads(const void* in, int64_t in_ld, int64_t rows, int64_t dims, int64_t heads, void* out,
                      int64_t out_ld, int64_t out_head_stride, GpuType type, cudaStream_t s) {
  Launch(BroadcastToHeadsKernel, RowGrid(heads * dims, rows), kThreads, 0, s, in, in_ld, rows, static_cast<int>(dims),
         static_cast<int>(heads), out, out_ld, out_head_stride, type);
}

}  // namespace transmla::cuda
