#ifndef TRANSMLA_CORE_CONVERT_VALUE_REFIT_H_
#define TRANSMLA_CORE_CONVERT_VALUE_REFIT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "core/convert/mla_layer.h"
#include "core/engine/block_runner.h"
#include "core/engine/cpu/attention.h"
#include "core/engine/cpu/ops.h"
#include "core/engine/refit_sums.h"
#include "core/io/hf_config.h"

namespace transmla::convert {

// What the value refits of one layer's balance candidates share, per calibration sequence: the
// original block's per-head attention outputs ([tokens x heads * head_dim]), and the converted
// queries (RoPE applied, [tokens x heads * qk]) and k_pe ([tokens x rope]), which the balance does
// not change (it moves only kv_a's latent rows and kv_b).
struct RefitInputs {
  std::vector<cpu::Mat> original_outputs, queries, rope_keys;
  std::vector<double> output_energy;  // per head, |o_h|^2 summed over the sequences
};
RefitInputs PrepareValueRefit(const ModelConfig& source, const GqaLayer& original, const MlaShape& shape,
                              const std::vector<double>& rope_frequencies, const cpu::Mat& normed_input,
                              const std::vector<cpu::SequenceSlice>& sequences, const MlaLayer& candidate);

// Refits each head's value up-projection (its value rows of kv_b) by least squares, so that the
// converted block's per-head attention output, under the converted attention pattern, matches the
// original block's on calibration tokens: W_UV_h = argmin sum_t |W m_t - o_t|^2 + r |W - W_old|^2
// with m_t the head's attention-weighted latent, o_t the original head output and r a small ridge,
// so that directions the calibration does not reach keep their weights. This compensates, per head,
// for both the value compression and the change in attention weights that key compression and
// partial RoPE cause. `mla` must not yet have its norms folded (the latent is plain A x), and
// `inputs` come from PrepareValueRefit for a candidate of the same layer. The sums run on `device`
// where it implements them (the GPU's block runner), else here; the solves run here. Returns the
// relative output error before and after.
struct RefitResult {
  double error_before = 0;
  double error_after = 0;
};
absl::StatusOr<RefitResult> RefitValueUpProjection(const ModelConfig& source, const MlaShape& shape,
                                                   const cpu::Mat& normed_input,
                                                   const std::vector<cpu::SequenceSlice>& sequences,
                                                   const RefitInputs& inputs, BlockRunner* device, MlaLayer* mla);

// The refit's sums on the CPU (float32 products, float64 sums over sequences).
RefitSums AccumulateRefitSums(const RefitProblem& problem);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_VALUE_REFIT_H_
