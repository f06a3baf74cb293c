#include "core/eval/agreement.h"

#include <algorithm>
#include <cmath>

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

// All-position logits of a batch of sequences (inputs: every token but the last).
absl::Status BatchLogits(Engine& engine, const std::vector<std::vector<int32_t>>& sequences, size_t begin, size_t end,
                         std::vector<std::vector<float>>* logits) {
  std::vector<std::unique_ptr<Sequence>> caches;
  std::vector<ForwardStep> steps;
  for (size_t i = begin; i < end; ++i) {
    caches.push_back(engine.NewSequence());
    steps.push_back({caches.back().get(), absl::MakeConstSpan(sequences[i]).first(sequences[i].size() - 1), true});
  }
  return engine.Forward(steps, logits);
}

// log-softmax of one row, in double.
void LogSoftmax(const float* row, int64_t n, std::vector<double>* out) {
  out->resize(static_cast<size_t>(n));
  const double max_logit = *std::max_element(row, row + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(row[i] - max_logit);
  const double log_sum = std::log(sum) + max_logit;
  for (int64_t i = 0; i < n; ++i) (*out)[i] = row[i] - log_sum;
}

}  // namespace

absl::StatusOr<AgreementResult> CompareModels(Engine& reference, Engine& candidate,
                                              const std::vector<std::vector<int32_t>>& sequences, int64_t batch,
                                              const std::function<void(int64_t, int64_t)>& on_progress) {
  const int64_t vocab = reference.config().vocab_size;
  if (candidate.config().vocab_size != vocab) {
    return absl::InvalidArgumentError(fmt::format("vocabularies differ: {} vs {}", vocab, candidate.config().vocab_size));
  }
  if (batch < 1) return absl::InvalidArgumentError("batch must be >= 1");
  AgreementResult r;
  double ref_nll = 0, cand_nll = 0, kl = 0;
  int64_t agree = 0;
  std::vector<double> lp_ref, lp_cand;
  for (size_t begin = 0; begin < sequences.size(); begin += static_cast<size_t>(batch)) {
    const size_t end = std::min(sequences.size(), begin + static_cast<size_t>(batch));
    for (size_t i = begin; i < end; ++i) {
      if (sequences[i].size() < 2) return absl::InvalidArgumentError(fmt::format("sequence {} has fewer than 2 tokens", i));
    }
    std::vector<std::vector<float>> ref_logits, cand_logits;
    RETURN_IF_ERROR(BatchLogits(reference, sequences, begin, end, &ref_logits));
    RETURN_IF_ERROR(BatchLogits(candidate, sequences, begin, end, &cand_logits));
    for (size_t i = begin; i < end; ++i) {
      const std::vector<float>& a = ref_logits[i - begin];
      const std::vector<float>& b = cand_logits[i - begin];
      for (size_t t = 0; t + 1 < sequences[i].size(); ++t) {
        const float* ra = a.data() + t * vocab;
        const float* rb = b.data() + t * vocab;
        LogSoftmax(ra, vocab, &lp_ref);
        LogSoftmax(rb, vocab, &lp_cand);
        const int32_t target = sequences[i][t + 1];
        ref_nll -= lp_ref[target];
        cand_nll -= lp_cand[target];
        double row_kl = 0;
        for (int64_t v = 0; v < vocab; ++v) {
          row_kl += std::exp(lp_ref[v]) * (lp_ref[v] - lp_cand[v]);
          r.max_abs_logit_diff = std::max(r.max_abs_logit_diff, static_cast<double>(std::abs(ra[v] - rb[v])));
        }
        kl += row_kl;
        agree += (std::max_element(ra, ra + vocab) - ra) == (std::max_element(rb, rb + vocab) - rb);
        ++r.positions;
      }
    }
    if (on_progress) on_progress(static_cast<int64_t>(end), static_cast<int64_t>(sequences.size()));
  }
  if (r.positions == 0) return absl::InvalidArgumentError("no positions to compare");
  const double n = static_cast<double>(r.positions);
  r.reference_mean_nll = ref_nll / n;
  r.candidate_mean_nll = cand_nll / n;
  r.reference_ppl = std::exp(r.reference_mean_nll);
  r.candidate_ppl = std::exp(r.candidate_mean_nll);
  r.mean_kl = kl / n;
  r.top1_agreement = static_cast<double>(agree) / n;
  return r;
}

}  // namespace transmla
