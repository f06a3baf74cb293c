#ifndef TRANSMLA_CORE_ENGINE_STEP_VALIDATION_H_
#define TRANSMLA_CORE_ENGINE_STEP_VALIDATION_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/engine/engine.h"

namespace transmla {

// The checks every engine makes before a Forward: each step names a distinct sequence of this
// engine (`owns`), has tokens inside the vocabulary, asks for a greedy token or all logits but
// not both, and stays within the model's context (ResourceExhausted past it; InvalidArgument for
// the rest).
absl::Status ValidateForwardSteps(absl::Span<const ForwardStep> steps, const ModelConfig& config,
                                  const std::function<bool(const Sequence*)>& owns);

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_STEP_VALIDATION_H_
