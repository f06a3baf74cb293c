// The greedy next token of decode steps picked on the device, so that a step copies out one id per
// sequence instead of a vocabulary of float32 logits (16 MB a step at batch 32 x 128K).
#ifndef TRANSMLA_CORE_ENGINE_CUDA_GREEDY_TOKENS_H_
#define TRANSMLA_CORE_ENGINE_CUDA_GREEDY_TOKENS_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace transmla::cuda {

// tokens[i] = first maximum of logits row rows[i] ([* x vocab], float32), NaN never winning and 0
// when the row is all NaN: the rule of FirstMaximum (core/engine/greedy_token.h).
void GreedyTokens(const float* logits, int64_t vocab, const int32_t* rows, int64_t count, int32_t* tokens,
                  cudaStream_t stream);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_GREEDY_TOKENS_H_
