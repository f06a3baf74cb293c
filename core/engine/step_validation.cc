#include "core/engine/step_validation.h"

#include "fmt/format.h"

namespace transmla {

absl::Status ValidateForwardSteps(absl::Span<const ForwardStep> steps, const ModelConfig& config,
                                  const std::function<bool(const Sequence*)>& owns) {
  for (size_t i = 0; i < steps.size(); ++i) {
    const ForwardStep& step = steps[i];
    if (step.sequence == nullptr || !owns(step.sequence)) {
      return absl::InvalidArgumentError(fmt::format("step {}: not a sequence of this engine", i));
    }
    for (size_t j = 0; j < i; ++j) {
      if (steps[j].sequence == step.sequence) {
        return absl::InvalidArgumentError(fmt::format("steps {} and {} name the same sequence", j, i));
      }
    }
    if (step.tokens.empty()) return absl::InvalidArgumentError(fmt::format("step {}: no tokens", i));
    if (step.greedy_token != nullptr && step.all_logits) {
      return absl::InvalidArgumentError(fmt::format("step {}: a greedy token and all logits", i));
    }
    for (int32_t id : step.tokens) {
      if (id < 0 || id >= config.vocab_size) {
        return absl::InvalidArgumentError(
            fmt::format("step {}: token id {} outside the vocabulary [0, {})", i, id, config.vocab_size));
      }
    }
    const int64_t end = step.sequence->length() + static_cast<int64_t>(step.tokens.size());
    if (end > config.max_position_embeddings) {
      return absl::ResourceExhaustedError(fmt::format("step {}: {} positions exceed the model's context of {}", i, end,
                                                      config.max_position_embeddings));
    }
  }
  return absl::OkStatus();
}

}  // namespace transmla
