#ifndef TRANSMLA_CORE_CONVERT_DEEPSEEK_MODE_H_
#define TRANSMLA_CORE_CONVERT_DEEPSEEK_MODE_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/convert/joint_pca.h"
#include "core/convert/layer_converter.h"
#include "core/convert/rorope.h"
#include "core/io/hf_config.h"

namespace transmla::convert {

struct DeepseekModeOptions {
  int64_t kv_lora_rank = 0;         // 0: n_kv*d_h / 2
  // 0: m pairs for each frequency that turns at least a radian over max_position_embeddings, at
  // most 64 dims (stories260K: 6; Llama-3-8B: 64).
  int64_t qk_rope_head_dim = 0;
  int64_t q_lora_rank = 0;          // > 0: queries through a rank-r q_a/q_b pair (PCA under calibration)
  int64_t pairs_per_frequency = 1;  // m: 1 = TransMLA, n_kv = every key dim keeps RoPE
  int64_t collapse = 1;             // keep every c-th frequency instead of the highest ones
  // FreqFold: RoRoPE over bands of this many adjacent frequencies (divides head_dim/2). It assumes
  // neighbouring frequencies are close, which fails for small head_dim; 1 keeps RoRoPE exact.
  int64_t freqfold = 1;
  RotationKind rotation = RotationKind::kHermitian;
  BalanceKind balance = BalanceKind::kQueryWhitened;
  double alpha = 1.0;               // K/V balance multiplier (used alone when not searching)
  // With calibration text, each layer keeps the multiplier of these whose block output is closest
  // to the original block's on the calibration tokens. Empty: always `alpha`.
  std::vector<double> alpha_candidates = {0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0};
  // With calibration text, refit each head's value up-projection so its attention output under
  // the converted attention pattern matches the original's (see value_refit.h).
  bool refit_values = true;
};

// Fills in defaults for the source's shape and checks ranges, naming the option on error.
absl::StatusOr<DeepseekModeOptions> ResolveDeepseekOptions(const ModelConfig& source, DeepseekModeOptions options);

// Mode `deepseek` (TransMLA v2): RoRoPE so that m pairs per kept frequency carry RoPE, joint PCA of
// [K_nope; V] to kv_lora_rank, and the absorb of the rotation into the queries. Output heads keep
// qk_nope_head_dim = v_head_dim = d_h: each head's NoPE query is its original query, and kv_b's key
// rows carry the rotation's query side times the key up-projection.
std::unique_ptr<LayerConverter> MakeDeepseekConverter(const ModelConfig& source, const DeepseekModeOptions& options);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_DEEPSEEK_MODE_H_
