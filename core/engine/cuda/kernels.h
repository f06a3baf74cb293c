#ifndef TRANSMLA_CORE_ENGINE_CUDA_KERNELS_H_
#define TRANSMLA_CORE_ENGINE_CUDA_KERNELS_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace transmla::cuda {

// Row i of `out` = row ids[i] of `table` ([vocab x d]).
void EmbeddingGather(const float* table, const int32_t* ids, int64_t rows, int64_t d, float* out, cudaStream_t s);
// out = x / rms(x) * weight, per row of d.
void RmsNorm(const float* x, const float* weight, int64_t rows, int64_t d, float eps, float* out, cudaStream_t s);
// x += bias (broadcast over rows of d).
void AddBias(float* x, const float* bias, int64_t rows, int64_t d, cudaStream_t s);
// x += y, n values.
void AddInPlace(float* x, const float* y, int64_t n, cudaStream_t s);
// out[r, j] = silu(gate_up[r, j]) * gate_up[r, f + j] for j < f (gate and up side by side).
void SiluMul(const float* gate_up, int64_t rows, int64_t f, float* out, cudaStream_t s);
// Rotate-half RoPE in place on `heads` heads of head_dim per row, the first 2 * pairs dims rotated
// with inv_freq[pair] at position positions[row].
void RopeRotateHalf(float* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t pairs, const float* inv_freq,
                    const int32_t* positions, cudaStream_t s);
// Copies each row's K and V ([rows x kv_dim] each) into its sequence's cache at its position:
// caches[row] points at that sequence's layer cache of [capacity x 2 x kv_dim] (K then V per token).
void AppendKv(const float* k, const float* v, int64_t rows, int64_t kv_dim, float* const* caches,
              const int32_t* positions, cudaStream_t s);
// Causal attention for each row (a new token) and head, over its sequence's cache positions
// 0..positions[row], with an online softmax (no score matrix in memory). q: [rows x heads x d];
// out: [rows x heads x d]; head h reads kv head h / group.
void Attention(const float* q, float* const* caches, const int32_t* positions, int64_t rows, int64_t heads,
               int64_t kv_heads, int64_t head_dim, float scale, float* out, cudaStream_t s);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_KERNELS_H_
