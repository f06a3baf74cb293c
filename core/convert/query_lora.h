#ifndef TRANSMLA_CORE_CONVERT_QUERY_LORA_H_
#define TRANSMLA_CORE_CONVERT_QUERY_LORA_H_

#include <cstdint>

#include "core/convert/joint_pca.h"
#include "core/convert/mla_layer.h"

namespace transmla::convert {

// DeepSeek's q_lora path from a full query projection: PCA of the queries [W_q | b_q][x; 1] under
// the input moment keeps `rank` components, q_a = U^T [W_q | b_q] and q_b = U. Replaces q_proj and
// q_bias with q_a, q_a_bias (the constant channel's column), q_a_norm (ones; folded later) and q_b.
// Returns the fraction of query energy kept.
double CompressQueries(const InputMoment& input, int64_t rank, MlaLayer* layer);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_QUERY_LORA_H_
