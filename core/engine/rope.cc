#include "core/engine/rope.h"

#include <cmath>

namespace transmla {
namespace {

void ApplyLlama3Scaling(const RopeScaling& s, std::vector<float>* inv_freq) {
  const double old_context = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  for (float& f : *inv_freq) {
    const double wavelen = 2.0 * M_PI / f;
    if (wavelen > low_freq_wavelen) {
      f = static_cast<float>(f / s.factor);
    } else if (wavelen >= high_freq_wavelen) {
      const double smooth = (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = static_cast<float>((1.0 - smooth) * f / s.factor + smooth * f);
    }
  }
}

}  // namespace

std::vector<float> RopeInverseFrequencies(const ModelConfig& config, int64_t rotary_dim) {
  const int64_t pairs = rotary_dim / 2;
  std::vector<float> inv_freq(static_cast<size_t>(pairs));
  const float base = static_cast<float>(config.rope_theta);
  for (int64_t i = 0; i < pairs; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(rotary_dim);
    inv_freq[i] = 1.0f / std::pow(base, exponent);
  }
  const RopeScaling& s = config.rope_scaling;
  switch (s.type) {
    case RopeScaling::Type::kNone:
      break;
    case RopeScaling::Type::kLinear:
      for (float& f : inv_freq) f = static_cast<float>(f / s.factor);
      break;
    case RopeScaling::Type::kLlama3:
      ApplyLlama3Scaling(s, &inv_freq);
      break;
    case RopeScaling::Type::kLongrope:
      for (int64_t i = 0; i < pairs && i < static_cast<int64_t>(s.short_factor.size()); ++i) {
        const float ext = static_cast<float>(s.short_factor[i]);
        inv_freq[i] = 1.0f / (ext * std::pow(base, static_cast<float>(2 * i) / static_cast<float>(rotary_dim)));
      }
      break;
  }
  return inv_freq;
}

double RopeAttentionScaling(const ModelConfig& config) {
  const RopeScaling& s = config.rope_scaling;
  if (s.type != RopeScaling::Type::kLongrope) return 1.0;
  // transformers derives the factor from max_position_embeddings / original_max_position_embeddings.
  const double original = s.original_max_position_embeddings > 0 ? s.original_max_position_embeddings
                                                                  : config.max_position_embeddings;
  const double factor = config.max_position_embeddings / original;
  if (factor <= 1.0) return 1.0;
  return std::sqrt(1.0 + std::log(factor) / std::log(original));
}

}  // namespace transmla
