#include "core/engine/greedy_token.h"

#include <cmath>

namespace transmla {

int32_t FirstMaximum(absl::Span<const float> logits) {
  int32_t best = 0;
  float best_value = -INFINITY;
  bool found = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i]) || (found && !(logits[i] > best_value))) continue;
    best = static_cast<int32_t>(i);
    best_value = logits[i];
    found = true;
  }
  return best;
}

}  // namespace transmla
