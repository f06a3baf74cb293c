#ifndef TRANSMLA_CORE_ENGINE_BLOCK_RUNNER_H_
#define TRANSMLA_CORE_ENGINE_BLOCK_RUNNER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/engine/cpu/attention.h"
#include "core/engine/cpu/ops.h"
#include "core/engine/refit_sums.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"

namespace transmla {

// Runs single decoder blocks on hidden states held by the caller, as layerwise calibration does:
// the block's input is not an embedding but the previous block's output, and only that one
// block's weights need to be resident. MLA blocks run as the engines serve them (absorbed on the
// CPU; on the GPU, sequences of 64+ tokens take the expanded prompt path).
class BlockRunner {
 public:
  virtual ~BlockRunner() = default;

  // Runs block `index` (the tensors model.layers.<index>.* of `block_store`, shaped by `config`)
  // on `hidden` ([tokens x hidden_size]) and returns the block's output hidden states. `slices`
  // must cover the rows of `hidden` in order, one per sequence; each sequence runs as a fresh
  // prefill (positions from 0, a cache of its own), so the slices' cache and start_position are
  // ignored. InvalidArgument for slices that do not cover the rows or for missing or misshapen
  // tensors; device errors (ResourceExhausted for out of memory) as the device reports them.
  virtual absl::StatusOr<cpu::Mat> Run(const ModelConfig& config, const TensorStore& block_store, int64_t index,
                                       const cpu::Mat& hidden, absl::Span<const cpu::SequenceSlice> slices) = 0;

  // Where the blocks run: "cpu", or "cuda:N <device name>".
  virtual std::string device() const = 0;

  // The value refit's sums on this device; Unimplemented where the caller's own CPU code serves.
  virtual absl::StatusOr<RefitSums> AccumulateRefit(const RefitProblem& problem) {
    return absl::UnimplementedError("the value refit runs on the CPU");
  }

  // Eigenvalues (ascending) and orthonormal eigenvectors (columns) of the symmetric `a` (its lower
  // triangle is read) on this device; Unimplemented where the caller's CPU solver serves.
  virtual absl::Status DecomposeSymmetric(const Eigen::MatrixXd& a, Eigen::VectorXd* values,
                                          Eigen::MatrixXd* vectors) {
    return absl::UnimplementedError("eigendecompositions run on the CPU");
  }
};

// OK when `slices` cover rows 0 .. rows - 1 in order, each with at least one row; else
// InvalidArgument naming the first slice that does not follow.
absl::Status CheckBlockSlices(absl::Span<const cpu::SequenceSlice> slices, int64_t rows);

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_BLOCK_RUNNER_H_
