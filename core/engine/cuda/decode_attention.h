#ifndef TRANSMLA_CORE_ENGINE_CUDA_DECODE_ATTENTION_H_
#define TRANSMLA_CORE_ENGINE_CUDA_DECODE_ATTENTION_H_

#include "absl/status/statusor.h"
#include "core/engine/cuda/attention.h"
#include "core/engine/cuda/gpu_type.h"

namespace transmla::cuda {

// GQA/MHA decoding on sm_90a warpgroup MMAs: a block of one warpgroup takes a chunk of one kv
// head's cache for a tile of up to 16 query items, its keys and values copied 64 positions a stage
// by the tensor memory accelerator through each cache's CacheTensorMap (the plan then needs the
// maps) into a ring of stages, with scores and outputs computed transposed (positions and value
// dims as the MMAs' M, the items as N). Key and value dims 64 or 128, tiles of 16 rows; a null
// kernel where it does not apply (the general kernel then serves).
absl::StatusOr<TensorCoreLaunch> ChooseDecodeWgmma(GpuType cache_type, const AttentionLayout& layout, int tile_rows,
                                                   const AttentionDeviceLimits& limits);

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_DECODE_ATTENTION_H_
