#ifndef TRANSMLA_CORE_ENGINE_GREEDY_TOKEN_H_
#define TRANSMLA_CORE_ENGINE_GREEDY_TOKEN_H_

#include <cstdint>

#include "absl/types/span.h"

namespace transmla {

// Index of the first maximum of `logits` (torch.argmax's choice); NaN never wins. 0 when every
// value is NaN. The CUDA engine's device-side pick follows the same rule.
int32_t FirstMaximum(absl::Span<const float> logits);

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_GREEDY_TOKEN_H_
