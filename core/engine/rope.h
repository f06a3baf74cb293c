#ifndef TRANSMLA_CORE_ENGINE_ROPE_H_
#define TRANSMLA_CORE_ENGINE_ROPE_H_

#include <cstdint>
#include <vector>

#include "core/io/hf_config.h"

namespace transmla {

// Inverse frequencies (radians per position) of the `rotary_dim / 2` RoPE pairs, as transformers
// computes them for `config.rope_scaling` (default, linear, llama3, longrope with the short factors).
// Computed in float32 like transformers so that angles match it bit for bit where possible.
std::vector<float> RopeInverseFrequencies(const ModelConfig& config, int64_t rotary_dim);

// The factor transformers multiplies cos/sin by (longrope's attention_factor; 1 otherwise).
double RopeAttentionScaling(const ModelConfig& config);

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_ROPE_H_
