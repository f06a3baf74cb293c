// Warpgroup tensor-core primitives of sm_90a (PTX ISA, "wgmma.mma_async"): four warps multiply
// operands that the tensor cores read from shared memory (A may also come from registers),
// asynchronously. Only code compiled for sm_90a may execute them (TRANSMLA_WGMMA_COMPILED says
// where that is the case).
#ifndef TRANSMLA_CORE_ENGINE_CUDA_WGMMA_CUH_
#define TRANSMLA_CORE_ENGINE_CUDA_WGMMA_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include <cstdint>
#include <type_traits>

#include "core/engine/cuda/mma.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define TRANSMLA_WGMMA_COMPILED 1
#else
#define TRANSMLA_WGMMA_COMPILED 0
#endif

namespace transmla::cuda {

// A shared-memory operand in 128-byte swizzle atoms (8 rows of 128 bytes at a 1024-byte aligned
// address, 16-byte chunk c of row r stored at chunk c ^ r % 8). `start` may lie 32, 64 or 96 bytes
// into an atom's rows (the k steps of a K-major operand). `leading_stride`: bytes between atoms side
// by side along an MN-major operand's M or N; `group_stride`: between groups of 8 rows (along M or N
// for a K-major operand, along K for an MN-major one).
__device__ __forceinline__ uint64_t SwizzledOperand(const void* start, uint32_t leading_stride, uint32_t group_stride) {
  const uint64_t encode_mask = 0x3FFFF, swizzle_128_bytes = 1;
  return ((SharedAddress(start) & encode_mask) >> 4) | (((leading_stride & encode_mask) >> 4) << 16) |
         (((group_stride & encode_mask) >> 4) << 32) | (swizzle_128_bytes << 62);
}

constexpr int kSwizzleRowBytes = 128, kSwizzleAtomBytes = 1024;

// Bytes of `rows` rows of `dims` 16-bit values in that layout: one block of [rows][128 bytes] per 64
// dims (the last one padded).
__host__ __device__ constexpr int SwizzledBlockBytes(int dims, int rows) {
  return (dims + 63) / 64 * rows * kSwizzleRowBytes;
}

__device__ __forceinline__ int SwizzledOffset(int dim_block, int rows, int row, int chunk) {
  return (dim_block * rows + row) * kSwizzleRowBytes + ((chunk ^ row % 8) * 16);
}

// Rows [0, rows) x `dims` 16-bit values of a row-major source (row r at src(r)) into the swizzled
// layout, 16 bytes per cp.async, by `kThreads` threads of which this is `thread`; rows at or past
// `valid` become zeros (not stale data: a zero probability times a NaN would still be NaN).
template <int kThreads, typename Source>
__device__ __forceinline__ void CopySwizzledRows(unsigned char* dst, int rows, int valid, int dims, int thread,
                                                 const Source& src) {
  const int chunks = dims / 8;
  for (int i = thread; i < rows * chunks; i += kThreads) {
    const int r = i / chunks, c = i % chunks;
    unsigned char* d = dst + SwizzledOffset(c / 8, rows, r, c % 8);
    if (r < valid) {
      __pipeline_memcpy_async(d, src(r) + c * 8, 16);
    } else {
      *reinterpret_cast<uint4*>(d) = make_uint4(0, 0, 0, 0);
    }
  }
}

// Rows [valid, rows) of `blocks` consecutive swizzled blocks of `rows` rows (128 bytes each) become
// zeros, by `kThreads` threads of which this is `thread`: stage rows past a chunk's end, which a
// copy may have filled with stale data (a zero probability times a NaN would still be NaN).
template <int kThreads>
__device__ __forceinline__ void ZeroSwizzledRowsFrom(unsigned char* first_block, int blocks, int rows, int valid,
                                                     int thread) {
  const int row_chunks = (rows - valid) * 8;
  for (int i = thread; i < blocks * row_chunks; i += kThreads) {
    const int b = i / row_chunks, r = valid + i % row_chunks / 8;
    *reinterpret_cast<uint4*>(first_block + (b * rows + r) * kSwizzleRowBytes + i % 8 * 16) = make_uint4(0, 0, 0, 0);
  }
}

__device__ __forceinline__ void WarpgroupFence() {
#if TRANSMLA_WGMMA_COMPILED
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void WarpgroupCommit() {
#if TRANSMLA_WGMMA_COMPILED
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}

// Waits until at most `kPending` committed groups are still running.
template <int kPending>
__device__ __forceinline__ void WarpgroupWait() {
#if TRANSMLA_WGMMA_COMPILED
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
#endif
}

// Makes this thread's ordinary shared-memory writes (and completed cp.async copies) visible to the
// tensor cores' (async proxy) reads.
__device__ __forceinline__ void FenceSharedForAsyncProxy() {
#if TRANSMLA_WGMMA_COMPILED
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// The accumulator of a 64 x N float tile (N / 2 registers a thread): warp w of the warpgroup holds
// rows 16w + g and 16w + g + 8 (g = lane / 4); d[4j], d[4j + 1] are row 16w + g's columns 8j + 2t and
// 8j + 2t + 1 (t = lane % 4), d[4j + 2], d[4j + 3] row 16w + g + 8's: per 8-column tile, the layout of
// mma.m16n8k16's accumulator.
template <int N>
struct WarpgroupAccumulator {
  float d[N / 2];
};

// Pins the accumulator's registers at this point of the program: the compiler must not move their
// reads or writes across it (the tensor cores write them between a wgmma and its wait).
template <int N>
__device__ __forceinline__ void FenceAccumulator(WarpgroupAccumulator<N>& acc) {
#pragma unroll
  for (int i = 0; i < N / 2; ++i) asm volatile("" : "+f"(acc.d[i])::"memory");
}

#define TRANSMLA_WGMMA_D8(b) "+f"(d[b]), "+f"(d[b + 1]), "+f"(d[b + 2]), "+f"(d[b + 3]), "+f"(d[b + 4]), \
                             "+f"(d[b + 5]), "+f"(d[b + 6]), "+f"(d[b + 7])

// D (64 x 64) = A B + (accumulate ? D : 0) over k = 16: A 64 x 16 K-major and B 16 x 64 K-major, both
// in shared memory.
template <typename T>
__device__ __forceinline__ void Wgmma64x64(WarpgroupAccumulator<64>& acc, uint64_t a, uint64_t b, int accumulate) {
#if TRANSMLA_WGMMA_COMPILED
  float* d = acc.d;
#define TRANSMLA_WGMMA_SS_64x64(TYPE)                                                                            \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                                      \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE                                       \
               " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26," \
               "%27,%28,%29,%30,%31}, %32, %33, p, 1, 1, 0, 0;\n}\n"                                             \
               : TRANSMLA_WGMMA_D8(0), TRANSMLA_WGMMA_D8(8), TRANSMLA_WGMMA_D8(16), TRANSMLA_WGMMA_D8(24)       \
               : "l"(a), "l"(b), "r"(accumulate))
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    TRANSMLA_WGMMA_SS_64x64("bf16");
  } else {
    TRANSMLA_WGMMA_SS_64x64("f16");
  }
#undef TRANSMLA_WGMMA_SS_64x64
#endif
}

// D (64 x N, N = 16 or 32) = A B + (accumulate ? D : 0) over k = 16, both from shared memory: A
// 64 x 16, K-major or with kTransposeA MN-major (M contiguous); B 16 x N K-major.
template <typename T, bool kTransposeA, int N>
__device__ __forceinline__ void Wgmma64xN(WarpgroupAccumulator<N>& acc, uint64_t a, uint64_t b, int accumulate) {
#if TRANSMLA_WGMMA_COMPILED
  float* d = acc.d;
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  if constexpr (N == 32) {
#define TRANSMLA_WGMMA_SS_64x32(TYPE)                                                                 \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"                                           \
               "wgmma.mma_async.sync.aligned.m64n32k16.f32." TYPE "." TYPE                            \
               " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15}, %16, %17, p, 1, 1, %19, 0;\n}\n" \
               : TRANSMLA_WGMMA_D8(0), TRANSMLA_WGMMA_D8(8)                                           \
               : "l"(a), "l"(b), "r"(accumulate), "n"(kTransposeA ? 1 : 0))
    if constexpr (kBf16) {
      TRANSMLA_WGMMA_SS_64x32("bf16");
    } else {
      TRANSMLA_WGMMA_SS_64x32("f16");
    }
#undef TRANSMLA_WGMMA_SS_64x32
  } else {
    static_assert(N == 16, "16 or 32 columns");
#define TRANSMLA_WGMMA_SS_64x16(TYPE)                                                          \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %10, 0;\n"                                    \
               "wgmma.mma_async.sync.aligned.m64n16k16.f32." TYPE "." TYPE                     \
               " {%0,%1,%2,%3,%4,%5,%6,%7}, %8, %9, p, 1, 1, %11, 0;\n}\n"                       \
               : TRANSMLA_WGMMA_D8(0)                                                          \
               : "l"(a), "l"(b), "r"(accumulate), "n"(kTransposeA ? 1 : 0))
    if constexpr (kBf16) {
      TRANSMLA_WGMMA_SS_64x16("bf16");
    } else {
      TRANSMLA_WGMMA_SS_64x16("f16");
    }
#undef TRANSMLA_WGMMA_SS_64x16
  }
#endif
}

// D (64 x N, N = 64 or 128) += A B over k = 16: A 64 x 16 from registers (the m16n8k16 A fragment
// of each warp's 16 rows), B 16 x N in shared memory, MN-major (N contiguous: transposed).
template <typename T, int N>
__device__ __forceinline__ void Wgmma64xNFromRegisters(WarpgroupAccumulator<N>& acc, const uint32_t (&a)[4],
                                                       uint64_t b) {
#if TRANSMLA_WGMMA_COMPILED
  float* d = acc.d;
  if constexpr (N == 64) {
#define TRANSMLA_WGMMA_RS_64x64(TYPE)                                                                              \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                                    \
               "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE                                         \
               " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26," \
               "%27,%28,%29,%30,%31}, {%32,%33,%34,%35}, %36, p, 1, 1, 1;\n}\n"                                   \
               : TRANSMLA_WGMMA_D8(0), TRANSMLA_WGMMA_D8(8), TRANSMLA_WGMMA_D8(16), TRANSMLA_WGMMA_D8(24)         \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1))
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      TRANSMLA_WGMMA_RS_64x64("bf16");
    } else {
      TRANSMLA_WGMMA_RS_64x64("f16");
    }
#undef TRANSMLA_WGMMA_RS_64x64
  } else {
    static_assert(N == 128, "64 or 128 columns");
#define TRANSMLA_WGMMA_RS_64x128(TYPE)                                                                              \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                                     \
               "wgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE                                         \
               " {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26," \
               "%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51," \
               "%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, {%64,%65,%66,%67}, %68, p, 1, 1, 1;\n}\n"           \
               : TRANSMLA_WGMMA_D8(0), TRANSMLA_WGMMA_D8(8), TRANSMLA_WGMMA_D8(16), TRANSMLA_WGMMA_D8(24),         \
                 TRANSMLA_WGMMA_D8(32), TRANSMLA_WGMMA_D8(40), TRANSMLA_WGMMA_D8(48), TRANSMLA_WGMMA_D8(56)        \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1))
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      TRANSMLA_WGMMA_RS_64x128("bf16");
    } else {
      TRANSMLA_WGMMA_RS_64x128("f16");
    }
#undef TRANSMLA_WGMMA_RS_64x128
  }
#endif
}

#undef TRANSMLA_WGMMA_D8

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_WGMMA_CUH_
