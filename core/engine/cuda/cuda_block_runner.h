#ifndef TRANSMLA_CORE_ENGINE_CUDA_CUDA_BLOCK_RUNNER_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CUDA_BLOCK_RUNNER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/engine/block_runner.h"

namespace transmla::cuda {

// Calibration's blocks on the current CUDA device in float32 (weights, cache and activations), so
// that they match the CPU engine to float rounding. Each Run loads its one block and frees it
// after; sequences are batched up to a bounded number of rows per step. FailedPrecondition when
// there is no device.
absl::StatusOr<std::unique_ptr<BlockRunner>> CreateCudaBlockRunner();

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CUDA_BLOCK_RUNNER_H_
