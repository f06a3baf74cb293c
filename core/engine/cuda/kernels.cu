#include "core/engine/cuda/kernels.h"

#include <cfloat>

namespace transmla::cuda {
namespace {

constexpr int kThreads = 256;

int Blocks(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

__global__ void EmbeddingGatherKernel(const float* table, const int32_t* ids, int64_t rows, int64_t d, float* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * d) return;
  const int64_t r = i / d, c = i % d;
  out[i] = table[static_cast<int64_t>(ids[r]) * d + c];
}

__global__ void RmsNormKernel(const float* x, const float* weight, int64_t d, float eps, float* out) {
  const float* row = x + blockIdx.x * d;
  float* dst = out + blockIdx.x * d;
  __shared__ float partial[kThreads];
  float sum = 0;
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) sum += row[c] * row[c];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  const float inv = rsqrtf(partial[0] / static_cast<float>(d) + eps);
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) dst[c] = row[c] * inv * weight[c];
}

__global__ void AddBiasKernel(float* x, const float* bias, int64_t rows, int64_t d) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < rows * d) x[i] += bias[i % d];
}

__global__ void AddKernel(float* x, const float* y, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) x[i] += y[i];
}

__global__ void SiluMulKernel(const float* gate_up, int64_t rows, int64_t f, float* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * f) return;
  const int64_t r = i / f, j = i % f;
  const float g = gate_up[r * 2 * f + j], u = gate_up[r * 2 * f + f + j];
  out[i] = g / (1.0f + expf(-g)) * u;
}

__global__ void RopeKernel(float* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t pairs,
                           const float* inv_freq, const int32_t* positions) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * heads * pairs) return;
  const int64_t p = i % pairs, h = (i / pairs) % heads, r = i / (pairs * heads);
  float* head = x + (r * heads + h) * head_dim;
  // Double precision for the angle: positions times frequencies reach 1e5 radians.
  const double angle = static_cast<double>(positions[r]) * static_cast<double>(inv_freq[p]);
  const float c = static_cast<float>(cos(angle)), s = static_cast<float>(sin(angle));
  const float a = head[p], b = head[p + pairs];
  head[p] = a * c - b * s;
  head[p + pairs] = b * c + a * s;
}

__global__ void AppendKvKernel(const float* k, const float* v, int64_t rows, int64_t kv_dim, float* const* caches,
                               const int32_t* positions) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * kv_dim) return;
  const int64_t r = i / kv_dim, c = i % kv_dim;
  float* token = caches[r] + static_cast<int64_t>(positions[r]) * 2 * kv_dim;
  token[c] = k[i];
  token[kv_dim + c] = v[i];
}

// One warp per (row, head): lanes split the head's dims; keys are visited in order with a running
// max and sum (online softmax), so no [rows x positions] score matrix exists anywhere.
__global__ void AttentionKernel(const float* q, float* const* caches, const int32_t* positions, int64_t rows,
                                int64_t heads, int64_t kv_heads, int64_t head_dim, float scale, float* out) {
  const int64_t warp = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= rows * heads) return;
  const int64_t r = warp / heads, h = warp % heads, kvh = h / (heads / kv_heads);
  const int64_t kv_dim = kv_heads * head_dim;
  const float* query = q + (r * heads + h) * head_dim;
  constexpr int kMaxPerLane = 8;  // head_dim <= 256
  float qv[kMaxPerLane], acc[kMaxPerLane];
  for (int j = 0; j < kMaxPerLane; ++j) {
    const int64_t c = lane + 32 * j;
    qv[j] = c < head_dim ? query[c] * scale : 0.0f;
    acc[j] = 0;
  }
  float running_max = -FLT_MAX, running_sum = 0;
  const float* cache = caches[r];
  for (int64_t t = 0; t <= positions[r]; ++t) {
    const float* key = cache + t * 2 * kv_dim + kvh * head_dim;
    float dot = 0;
    for (int j = 0; j < kMaxPerLane; ++j) {
      const int64_t c = lane + 32 * j;
      if (c < head_dim) dot += qv[j] * key[c];
    }
    for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffff, dot, offset);
    const float new_max = fmaxf(running_max, dot);
    const float correction = expf(running_max - new_max), weight = expf(dot - new_max);
    running_sum = running_sum * correction + weight;
    const float* value = key + kv_dim;
    for (int j = 0; j < kMaxPerLane; ++j) {
      const int64_t c = lane + 32 * j;
      acc[j] = acc[j] * correction + (c < head_dim ? weight * value[c] : 0.0f);
    }
    running_max = new_max;
  }
  float* dst = out + (r * heads + h) * head_dim;
  for (int j = 0; j < kMaxPerLane; ++j) {
    const int64_t c = lane + 32 * j;
    if (c < head_dim) dst[c] = acc[j] / running_sum;
  }
}

}  // namespace

void EmbeddingGather(const float* table, const int32_t* ids, int64_t rows, int64_t d, float* out, cudaStream_t s) {
  EmbeddingGatherKernel<<<Blocks(rows * d), kThreads, 0, s>>>(table, ids, rows, d, out);
}

void RmsNorm(const float* x, const float* weight, int64_t rows, int64_t d, float eps, float* out, cudaStream_t s) {
  RmsNormKernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, weight, d, eps, out);
}

void AddBias(float* x, const float* bias, int64_t rows, int64_t d, cudaStream_t s) {
  AddBiasKernel<<<Blocks(rows * d), kThreads, 0, s>>>(x, bias, rows, d);
}

void AddInPlace(float* x, const float* y, int64_t n, cudaStream_t s) { AddKernel<<<Blocks(n), kThreads, 0, s>>>(x, y, n); }

void SiluMul(const float* gate_up, int64_t rows, int64_t f, float* out, cudaStream_t s) {
  SiluMulKernel<<<Blocks(rows * f), kThreads, 0, s>>>(gate_up, rows, f, out);
}

void RopeRotateHalf(float* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t pairs, const float* inv_freq,
                    const int32_t* positions, cudaStream_t s) {
  RopeKernel<<<Blocks(rows * heads * pairs), kThreads, 0, s>>>(x, rows, heads, head_dim, pairs, inv_freq, positions);
}

void AppendKv(const float* k, const float* v, int64_t rows, int64_t kv_dim, float* const* caches,
              const int32_t* positions, cudaStream_t s) {
  AppendKvKernel<<<Blocks(rows * kv_dim), kThreads, 0, s>>>(k, v, rows, kv_dim, caches, positions);
}

void Attention(const float* q, float* const* caches, const int32_t* positions, int64_t rows, int64_t heads,
               int64_t kv_heads, int64_t head_dim, float scale, float* out, cudaStream_t s) {
  AttentionKernel<<<Blocks(rows * heads * 32), kThreads, 0, s>>>(q, caches, positions, rows, heads, kv_heads,
                                                                head_dim, scale, out);
}

}  // namespace transmla::cuda
