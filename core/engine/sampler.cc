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

  // Candidates by descending logit (ties: the lower id first), sorted only as far as top-k and
  // top-p need: a full sort of a 128K vocabulary took 17-28 ms a token.
  const auto higher = [&](int32_t a, int32_t b) { return work_[a] > work_[b] || (work_[a] == work_[b] && a < b); };
  order_.resize(static_cast<size_t>(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  int64_t keep = vocab, sorted = 0;
  if (params_.top_k > 0 && params_.top_k < vocab) {
    keep = sorted = params_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + keep, order_.end(), higher);
  }
  float max_logit = work_[order_[0]];
  for (int64_t i = 1; i < keep; ++i) max_logit = std::max(max_logit, work_[order_[i]]);
  weight_.resize(static_cast<size_t>(vocab));
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) {
    const int32_t id = order_[i];
    total += weight_[id] = std::exp(work_[id] - max_logit);  // float exp: 1e-7 relative is plenty for a draw
  }
  if (params_.top_p < 1.0f) {
    // Smallest set of most probable candidates whose mass reaches top_p, at least one token
    // (transformers' TopPLogitsWarper), sorted in rounds of 4x more until the mass is there.
    const double target = params_.top_p * total;
    double mass = 0;
    int64_t cut = 0;
    for (int64_t next = std::min<int64_t>(keep, 256);; next = std::min(keep, 4 * next)) {
      if (next > sorted) {
        std::partial_sort(order_.begin() + sorted, order_.begin() + next, order_.begin() + keep, higher);
        sorted = next;
      }
      while (cut < sorted && mass < target) mass += weight_[order_[cut++]];
      if (mass >= target || sorted == keep) break;
    }
    keep = cut;
    total = mass;
  }
  // The kept candidates in their order, each with its weight's share of [0, total).
  const double u = std::uniform_real_distribution<double>(0.0, total)(rng_);
  double below = 0;
  for (int64_t i = 0; i + 1 < keep; ++i) {
    below += weight_[order_[i]];
    if (u < below) return order_[i];
  }
  return order_[keep - 1];
}

}  // namespace transmla
