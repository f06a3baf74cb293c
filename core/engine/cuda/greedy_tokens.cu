#include "core/engine/cuda/greedy_tokens.h"

#include <climits>

#include "core/engine/cuda/launch.cuh"

namespace transmla::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kNone = INT_MAX;

struct Candidate {
  float value;
  int index;  // kNone: no value seen yet (or only NaN)
};

// The earlier of two first maxima: the larger value, the lower index on a tie.
__device__ Candidate Better(Candidate a, Candidate b) {
  if (b.index == kNone) return a;
  if (a.index == kNone || b.value > a.value || (b.value == a.value && b.index < a.index)) return b;
  return a;
}

__device__ Candidate WarpBest(Candidate c) {
  for (int offset = 16; offset > 0; offset /= 2) {
    Candidate other{__shfl_down_sync(0xffffffffu, c.value, offset), __shfl_down_sync(0xffffffffu, c.index, offset)};
    c = Better(c, other);
  }
  return c;
}

// One block per row.
__global__ void GreedyTokensKernel(const float* logits, int64_t vocab, const int32_t* rows, int32_t* tokens) {
  WaitForPreviousKernel();
  const float* row = logits + static_cast<int64_t>(rows[blockIdx.x]) * vocab;
  Candidate best{0.0f, kNone};
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
    const float v = __ldg(row + i);
    if (v == v && (best.index == kNone || v > best.value)) best = {v, static_cast<int>(i)};
  }
  best = WarpBest(best);
  __shared__ Candidate warps[kThreads / 32];
  if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = best;
  __syncthreads();
  if (threadIdx.x >= 32) return;
  best = WarpBest(warps[threadIdx.x]);
  if (threadIdx.x == 0) tokens[blockIdx.x] = best.index == kNone ? 0 : best.index;
}

}  // namespace

void GreedyTokens(const float* logits, int64_t vocab, const int32_t* rows, int64_t count, int32_t* tokens,
                  cudaStream_t stream) {
  if (count == 0) return;
  Launch(GreedyTokensKernel, static_cast<unsigned>(count), kThreads, 0, stream, logits, vocab, rows, tokens);
}

}  // namespace transmla::cuda
