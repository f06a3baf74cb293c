#ifndef TRANSMLA_CORE_ENGINE_CUDA_LATENT_ATTENTION_H_
#define TRANSMLA_CORE_ENGINE_CUDA_LATENT_ATTENTION_H_

#include "absl/status/statusor.h"
#include "core/engine/cuda/attention.h"
#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

// The 16-bit kernel for MLA's absorbed attention (one latent row per position serving as every
// head's key and, through its first value_dim entries, value): each block reads its chunk of a
// sequence's latent cache once for a tile of 32 query items (heads), through a two-stage
// copy pipeline, with the queries held in registers. The warpgroup kernel below is preferred where
// `limits` allow it. A launch with a null kernel means these dims are not compiled (or do not fit);
// the general kernel then serves.
absl::StatusOr<TensorCoreLaunch> ChooseLatentAttention(GpuType cache_type, const AttentionLayout& layout,
                                                       int tile_rows, const AttentionDeviceLimits& limits);
// The same on sm_90a warpgroup MMAs: two warpgroups each stream every other stage of 64 positions,
// copied by the tensor memory accelerator through each cache's CacheTensorMap (the plan then needs
// the maps), with their own online softmax; scores and outputs are computed transposed (positions
// and value dims as the MMAs' M, the 32 items as N). A null kernel where they do not apply.
absl::StatusOr<TensorCoreLaunch> ChooseLatentWgmma(GpuType cache_type, const AttentionLayout& layout, int tile_rows,
                                                   const AttentionDeviceLimits& limits);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_LATENT_ATTENTION_H_
