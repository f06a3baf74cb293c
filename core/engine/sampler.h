#ifndef TRANSMLA_CORE_ENGINE_SAMPLER_H_
#define TRANSMLA_CORE_ENGINE_SAMPLER_H_

#include <cstdint>
#include <random>
#include <vector>

#include "absl/types/span.h"
#include "core/engine/generate.h"

namespace transmla {

// Picks next tokens from logits under SamplingParams, with the logits processors applied in
// transformers' order: repetition penalty, temperature, top-k, top-p. Greedy (temperature 0) takes
// the first maximum, like torch.argmax. One Sampler per sequence: it owns that sequence's RNG.
class Sampler {
 public:
  // `seed` fixes the stream; without one the sampler seeds from std::random_device.
  explicit Sampler(const SamplingParams& params);

  // `logits` of one position (vocab_size values); `history` is every token of the sequence so
  // far (prompt + generated), which the repetition penalty looks at.
  int32_t Sample(absl::Span<const float> logits, absl::Span<const int32_t> history);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<float> work_;
  std::vector<int32_t> order_;
  std::vector<double> weight_;  // exp(logit - max) by token id, for the kept candidates
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_SAMPLER_H_
