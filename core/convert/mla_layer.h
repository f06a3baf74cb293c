#ifndef TRANSMLA_CORE_CONVERT_MLA_LAYER_H_
#define TRANSMLA_CORE_CONVERT_MLA_LAYER_H_

#include <cstdint>
#include <optional>

#include "Eigen/Core"

namespace transmla::convert {

// Conversion arithmetic runs in float64; results are narrowed only when written.
using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VecD = Eigen::VectorXd;

// One Llama-family attention block in HF layout (rotate-half RoPE order within each head).
struct GqaLayer {
  MatD wq, wk, wv, wo;  // [n_h*d_h x d], [n_kv*d_h x d], [n_kv*d_h x d], [d x n_h*d_h]
  std::optional<VecD> bq, bk, bv;
};

// The same block as stock DeepSeek-V3 MLA weights. Without q_lora, `q_proj` is set; with it,
// q_a/q_a_norm/q_b (and q_a_bias when the source has query biases).
struct MlaLayer {
  MatD q_proj;
  std::optional<VecD> q_bias;  // not stock: FoldQueryBias moves it into a q_lora path
  MatD q_a, q_b;
  VecD q_a_norm;
  std::optional<VecD> q_a_bias;
  MatD kv_a;         // [kv_lora_rank + qk_rope x d]
  std::optional<VecD> kv_a_bias;
  VecD kv_a_norm;    // [kv_lora_rank]
  MatD kv_b;         // [n_h*(qk_nope + v_head) x kv_lora_rank]
  MatD o_proj;       // [d x n_h*v_head]
};

// The MLA shape a conversion produces.
struct MlaShape {
  int64_t heads = 0;
  int64_t q_lora_rank = 0;
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
};

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_MLA_LAYER_H_
