#ifndef TRANSMLA_CORE_EVAL_AGREEMENT_H_
#define TRANSMLA_CORE_EVAL_AGREEMENT_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"

namespace transmla {

// How closely a candidate model's next-token distributions follow a reference model's on the same
// sequences, plus each model's own perplexity on them.
struct AgreementResult {
  int64_t positions = 0;         // predicted positions compared (every token after the first)
  double reference_mean_nll = 0;
  double candidate_mean_nll = 0;
  double reference_ppl = 0;
  double candidate_ppl = 0;
  double mean_kl = 0;            // mean KL(reference || candidate), nats
  double top1_agreement = 0;     // fraction of positions with the same argmax
  double max_abs_logit_diff = 0;
};

// Runs both engines over `sequences` (each predicting its tokens after the first) in batches of
// `batch`. The engines must share a vocabulary.
absl::StatusOr<AgreementResult> CompareModels(Engine& reference, Engine& candidate,
                                              const std::vector<std::vector<int32_t>>& sequences, int64_t batch = 16,
                                              const std::function<void(int64_t, int64_t)>& on_progress = nullptr);

}  // namespace transmla

#endif  // TRANSMLA_CORE_EVAL_AGREEMENT_H_
