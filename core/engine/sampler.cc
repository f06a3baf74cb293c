#include "core/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/engine/greedy_token.h"

namespace transmla {

Sampler::Sampler(const SamplingParams& params)
    : params_(params), rng_(params.seed.has_value() ? *params.seed : std::random_device{}()) {}

int32_t Sampler::Sample(absl::Span<const float> logits, absl::Span<const int32_t> history) {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  work_.assign(logits.begin(), logits.end());
  if (params_.repetition_penalty != 1.0f) {
    for (int32_t id : history) {
      if (id < 0 || id >= vocab) continue;
      // Applied once per distinct token: mark by comparing against the original logit.
      if (work_[id] != logits[id]) continue;
      work_[id] = logits[id] < 0 ? logits[id] * params_.repetition_penalty : logits[id] / params_.repetition_penalty;
    }
  }
  if (params_.temperature <= 0.0f) {
    return FirstMaximum(work_);
  }
  for (float& v : work_) v /= params_.temperature;

  order_.resize(static_cast<size_t>(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  int64_t keep = vocab;
  if (params_.top_k > 0 && params_.top_k < vocab) {
    keep = params_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + keep, order_.end(),
                      [&](int32_t a, int32_t b) { return work_[a] > work_[b]; });
  } else {
    std::sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) { return work_[a] > work_[b]; });
  }
  // Softmax over the kept candidates (sorted descending).
  const float max_logit = work_[order_[0]];
  std::vector<double> probs(static_cast<size_t>(keep));
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) total += probs[i] = std::exp(static_cast<double>(work_[order_[i]] - max_logit));
  for (double& p : probs) p /= total;
  if (params_.top_p < 1.0f) {
    // Smallest prefix whose mass reaches top_p, at least one token (transformers' TopPLogitsWarper).
    double mass = 0;
    int64_t cut = 0;
    while (cut < keep && mass < params_.top_p) mass += probs[cut++];
    keep = std::max<int64_t>(cut, 1);
    probs.resize(static_cast<size_t>(keep));
  }
  std::discrete_distribution<int64_t> pick(probs.begin(), probs.end());
  return order_[pick(rng_)];
}

}  // namespace transmla
