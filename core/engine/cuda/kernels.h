#ifndef TRANSMLA_CORE_ENGINE_CUDA_KERNELS_H_
#define TRANSMLA_CORE_ENGINE_CUDA_KERNELS_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

// Element-wise and row kernels. `out_type` says what an output buffer holds (GEMM inputs are in
// the weights' type); float32 buffers are float*.

// out[i] = in[i] converted, n values.
void Convert(const void* in, GpuType in_type, int64_t n, void* out, GpuType out_type, cudaStream_t s);
// For each of `matrices` [rows x cols] matrices of `type` starting in_stride elements apart: its
// transpose [cols x rows], one after the other in `out`.
void Transpose(const void* in, int64_t in_stride, int64_t matrices, int64_t rows, int64_t cols, GpuType type, void* out,
               cudaStream_t s);
// Row i of `out` (float32) = row ids[i] of `table` ([vocab x d] of `table_type`).
void EmbeddingGather(const void* table, GpuType table_type, const int32_t* ids, int64_t rows, int64_t d, float* out,
                     cudaStream_t s);
// out = x / rms(x) * weight per row of d (x rows `x_ld` apart, out rows `out_ld` apart).
void RmsNorm(const float* x, int64_t x_ld, const float* weight, int64_t rows, int64_t d, float eps, void* out,
             GpuType out_type, int64_t out_ld, cudaStream_t s);
// x += bias (broadcast over rows of d).
void AddBias(float* x, const float* bias, int64_t rows, int64_t d, cudaStream_t s);
// out[r, j] = silu(gate_up[r, j]) * gate_up[r, f + j] for j < f (gate and up side by side).
void SiluMul(const float* gate_up, int64_t rows, int64_t f, void* out, GpuType out_type, cudaStream_t s);

// How RoPE pairs dims: rotate-half (i, i + dims/2), as Llama, or interleaved (2i, 2i + 1), as DeepSeek.
enum class RopeLayout { kRotateHalf, kInterleaved };
struct RopeArgs {
  const float2* angles = nullptr;      // [rows x pairs] from RopeAngles
  int64_t pairs = 0;
  const int32_t* positions = nullptr;  // per row
  RopeLayout layout = RopeLayout::kRotateHalf;
};
// angles[r, i] = (cos, sin)(positions[r] * inv_freq[i]) * scale (longrope's attention factor), for
// i < pairs: once per step, shared by every layer's RoPE.
void RopeAngles(const float* inv_freq, int64_t pairs, const int32_t* positions, int64_t rows, float scale,
                float2* angles, cudaStream_t s);

// For each row and head: reads `dims` floats at in + row * in_ld + head * in_head_stride, applies
// RoPE to dims [rope_begin, rope_begin + rope_dims) and writes them (as out_type) at element
// out_offset + head * out_head_stride of either out + row * out_ld or, for cache writes,
// out_rows[row] + positions[row] * out_position_stride.
struct HeadCopy {
  const float* in = nullptr;
  int64_t in_ld = 0, in_head_stride = 0;
  int64_t heads = 0, dims = 0, rope_begin = 0, rope_dims = 0;
  void* out = nullptr;
  void* const* out_rows = nullptr;  // per-row base pointers (a sequence's layer cache)
  GpuType out_type = GpuType::kF32;
  int64_t out_ld = 0, out_position_stride = 0, out_head_stride = 0, out_offset = 0;
};
// The MLA latent: per row, RMSNorm of the first `rank` floats of kv_a (row stride kv_ld) into the
// row's cache slot, then the `rope_dims` k_pe floats after it with RoPE.
struct LatentAppend {
  const float* kv_a = nullptr;
  int64_t kv_ld = 0;
  const float* norm_weight = nullptr;
  float eps = 0;
  int64_t rank = 0, rope_dims = 0;
  void* const* caches = nullptr;  // per row
  GpuType cache_type = GpuType::kF32;
  int64_t token_stride = 0;
};
// Up to kMaxHeadCopies copies in one launch (a layer's q, k and v), and the latent append when
// `latent` is given (a block a row beside the copies' blocks: one launch less on MLA's chain).
constexpr int kMaxHeadCopies = 3;
void CopyHeadsWithRope(std::initializer_list<HeadCopy> copies, int64_t rows, const RopeArgs& rope, cudaStream_t s,
                       const LatentAppend* latent = nullptr);

// out[r * out_ld + h * out_head_stride + c] = in[r * in_ld + c] for every row r, head h and c < dims
// (both of `type`): a row shared by all heads, such as MLA's k_pe, copied to each.
void BroadcastToHeads(const void* in, int64_t in_ld, int64_t rows, int64_t dims, int64_t heads, void* out,
                      int64_t out_ld, int64_t out_head_stride, GpuType type, cudaStream_t s);

// Rows of `n` scores, `n` per block of rows (row r is position r % n of its block): each becomes the
// softmax of scale * its first r % n + 1 entries, zeros after (causal attention weights).
void CausalSoftmaxRows(float* scores, int64_t rows, int64_t n, float scale, cudaStream_t s);
// sums[i] += values[i] for i < count, in float64.
void AddToDouble(const float* values, int64_t count, double* sums, cudaStream_t s);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_KERNELS_H_
