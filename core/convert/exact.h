#ifndef TRANSMLA_CORE_CONVERT_EXACT_H_
#define TRANSMLA_CORE_CONVERT_EXACT_H_

#include <vector>

#include "core/convert/mla_layer.h"
#include "core/io/hf_config.h"

namespace transmla::convert {

// Mode `exact` (TransMLA v1's claim, SPEC §4): the GQA block as MLA computing the same function.
// Every key dim keeps RoPE: the n_kv heads' keys are stacked in the shared k_pe (interleaved
// pairs, kv head g's pair i at p = g*d_h/2 + i); the latent is V (SVD-balanced so kv_a's latent
// rows and kv_b's columns are orthogonal bases); each query head's rows sit in its kv group's block
// of q_pe, scaled by sqrt(n_kv*d_h / d_h) to undo DeepSeek's 1/sqrt(qk_head_dim).
MlaShape ExactShape(const ModelConfig& source);
MlaLayer ConvertExact(const ModelConfig& source, const GqaLayer& layer);

// The RoPE frequency (radians per position) of each k_pe pair in ExactShape's layout.
std::vector<double> ExactRopeFrequencies(const ModelConfig& source);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_EXACT_H_
