// Warp-level tensor-core primitives with documented register layouts (PTX ISA, "mma.m16n8k16"):
// the accumulator of a 16x8 tile lives in registers, so a kernel can rescale its rows in place.
#ifndef TRANSMLA_CORE_ENGINE_CUDA_MMA_CUH_
#define TRANSMLA_CORE_ENGINE_CUDA_MMA_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace transmla::cuda {

// Lane l of a 16x8 float accumulator holds (row l/4, cols 2(l%4), +1) in c[0..1] and row l/4 + 8 in c[2..3].
struct Accumulator {
  float c[4];
};

// Multiplies the accumulator's row l/4 by `low` and row l/4 + 8 by `high` (an online-softmax rescale).
__device__ __forceinline__ void ScaleRows(Accumulator& a, float low, float high) {
  a.c[0] *= low;
  a.c[1] *= low;
  a.c[2] *= high;
  a.c[3] *= high;
}

// The online-softmax rescale of a warp's kMTiles x kTiles output tiles: every row by its
// correction in `row_corr` (one float per tile row, this lane's rows lane / 4 and lane / 4 + 8).
template <int kMTiles, int kTiles>
__device__ __forceinline__ void ScaleTileRows(Accumulator (&acc)[kMTiles][kTiles], const float* row_corr, int lane) {
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
    const float low = row_corr[mt * 16 + lane / 4], high = row_corr[mt * 16 + lane / 4 + 8];
#pragma unroll
    for (int j = 0; j < kTiles; ++j) ScaleRows(acc[mt][j], low, high);
  }
}

__device__ __forceinline__ uint32_t SharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Four 8x8 b16 matrices; lanes 8i..8i+7 give the row addresses of matrix i, register i receives it.
__device__ __forceinline__ void LoadMatrixX4(uint32_t (&r)[4], const void* row_address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SharedAddress(row_address)));
}

// The same, each matrix transposed on the way (a row-major [k x n] operand read as B).
__device__ __forceinline__ void LoadMatrixX4Transposed(uint32_t (&r)[4], const void* row_address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SharedAddress(row_address)));
}

// D = A B + D for a 16x16 A (4 registers) and a 16x8 B (2 registers), FP32 accumulation.
template <typename T>
__device__ __forceinline__ void Mma16816(Accumulator& d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void Mma16816<__nv_bfloat16>(Accumulator& d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d.c[0]), "+f"(d.c[1]), "+f"(d.c[2]), "+f"(d.c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void Mma16816<__half>(Accumulator& d, const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d.c[0]), "+f"(d.c[1]), "+f"(d.c[2]), "+f"(d.c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// The A operand of rows [0, 16) x cols [0, 16) of a row-major shared matrix with `ld` elements per row.
template <typename T>
__device__ __forceinline__ void LoadA(uint32_t (&a)[4], const T* tile, int ld) {
  const int lane = threadIdx.x % 32;
  LoadMatrixX4(a, tile + (lane % 16) * ld + (lane / 16) * 8);
}

// B operands of two 8-column tiles from a row-major [n x k] shared matrix (B = its transpose, as
// keys for q.k): b[0..1] for rows [0, 8), b[2..3] for rows [8, 16), over k in [0, 16).
template <typename T>
__device__ __forceinline__ void LoadBFromRows(uint32_t (&b)[4], const T* tile, int ld) {
  const int lane = threadIdx.x % 32;
  LoadMatrixX4(b, tile + ((lane / 16) * 8 + lane % 8) * ld + ((lane / 8) % 2) * 8);
}

// B operands of two 8-column tiles of a row-major [k x n] shared matrix (values for p.v): columns
// starting at col0 (b[0..1]) and col1 (b[2..3]), over k rows [0, 16).
template <typename T>
__device__ __forceinline__ void LoadBFromColumns(uint32_t (&b)[4], const T* tile, int ld, int col0, int col1) {
  const int lane = threadIdx.x % 32;
  const int matrix = lane / 8;
  LoadMatrixX4Transposed(b, tile + ((matrix % 2) * 8 + lane % 8) * ld + (matrix < 2 ? col0 : col1));
}

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_MMA_CUH_
