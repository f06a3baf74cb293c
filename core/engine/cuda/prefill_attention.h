#ifndef TRANSMLA_CORE_ENGINE_CUDA_PREFILL_ATTENTION_H_
#define TRANSMLA_CORE_ENGINE_CUDA_PREFILL_ATTENTION_H_

#include "absl/status/statusor.h"
#include "core/engine/cuda/attention.h"
#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

// Query items per block of the mma.sync prefill kernel: 16 per warp. H200, 8B-wide layers: 8 warps
// prefilled 8K tokens 4-5% faster than 4 (the same keys and values serve twice the rows). The
// warpgroup kernel takes 192 (TensorCoreLaunch::tile_rows); a step of prompts takes either once
// some prompt has this many items.
constexpr int kPrefillTileRows = 128;

// The 16-bit prompt kernel (FlashAttention-2's structure: each warp keeps its 16 query rows, their
// scores and the softmax in registers; only keys and values pass through shared memory) for a
// layout whose dims it is compiled for, configured for `limits`. A launch with a null kernel means
// these dims are not compiled; the general kernel then serves.
absl::StatusOr<TensorCoreLaunch> ChoosePrefillAttention(GpuType cache_type, const AttentionLayout& layout,
                                                        const AttentionDeviceLimits& limits);
// The same on sm_90a warpgroup MMAs, which ChoosePrefillAttention prefers where `limits` allow them
// (H200, 8B: 8K-token prompts about 8% faster); a null kernel where they do not apply.
absl::StatusOr<TensorCoreLaunch> ChoosePrefillWgmma(GpuType cache_type, const AttentionLayout& layout,
                                                    const AttentionDeviceLimits& limits);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_PREFILL_ATTENTION_H_
