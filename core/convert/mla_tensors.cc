#include "core/convert/mla_tensors.h"

#include "fmt/format.h"

namespace transmla::convert {
namespace {

NamedTensor FromMatrix(std::string name, const MatD& m, double scale = 1.0) {
  NamedTensor t{std::move(name), {m.rows(), m.cols()}, std::vector<float>(static_cast<size_t>(m.size()))};
  Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(t.values.data(), m.rows(),
                                                                                      m.cols()) =
      (m * scale).cast<float>();
  return t;
}

NamedTensor FromVector(std::string name, const VecD& v) {
  NamedTensor t{std::move(name), {v.size()}, std::vector<float>(static_cast<size_t>(v.size()))};
  Eigen::Map<Eigen::VectorXf>(t.values.data(), v.size()) = v.cast<float>();
  return t;
}

}  // namespace

std::vector<TensorSpec> PlanOutputTensors(const ModelConfig& c, const OutputLayout& layout, DType dtype) {
  const MlaShape& s = layout.shape;
  const int64_t d = c.hidden_size;
  const int64_t qk = s.qk_nope_head_dim + s.qk_rope_head_dim;
  std::vector<TensorSpec> specs;
  auto add = [&](std::string name, std::vector<int64_t> dims) { specs.push_back({std::move(name), dtype, dims}); };
  add("model.embed_tokens.weight", {c.vocab_size, d});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    add(p + "input_layernorm.weight", {d});
    add(p + "post_attention_layernorm.weight", {d});
    add(p + "mlp.gate_proj.weight", {c.intermediate_size, d});
    add(p + "mlp.up_proj.weight", {c.intermediate_size, d});
    add(p + "mlp.down_proj.weight", {d, c.intermediate_size});
    const std::string a = p + "self_attn.";
    if (s.q_lora_rank > 0) {
      add(a + "q_a_proj.weight", {s.q_lora_rank, d});
      add(a + "q_a_layernorm.weight", {s.q_lora_rank});
      add(a + "q_b_proj.weight", {s.heads * qk, s.q_lora_rank});
      if (layout.attention_bias) add(a + "q_a_proj.bias", {s.q_lora_rank});
    } else {
      add(a + "q_proj.weight", {s.heads * qk, d});
    }
    add(a + "kv_a_proj_with_mqa.weight", {s.kv_lora_rank + s.qk_rope_head_dim, d});
    add(a + "kv_a_layernorm.weight", {s.kv_lora_rank});
    add(a + "kv_b_proj.weight", {s.heads * (s.qk_nope_head_dim + s.v_head_dim), s.kv_lora_rank});
    add(a + "o_proj.weight", {d, s.heads * s.v_head_dim});
    if (layout.attention_bias) {
      add(a + "kv_a_proj_with_mqa.bias", {s.kv_lora_rank + s.qk_rope_head_dim});
      add(a + "o_proj.bias", {d});
    }
  }
  add("model.norm.weight", {d});
  if (!layout.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, d});
  return specs;
}

std::vector<NamedTensor> AttentionTensors(const MlaLayer& m, int64_t layer, const OutputLayout& layout,
                                          double output_scale) {
  const std::string a = fmt::format("model.layers.{}.self_attn.", layer);
  std::vector<NamedTensor> out;
  if (layout.shape.q_lora_rank > 0) {
    out.push_back(FromMatrix(a + "q_a_proj.weight", m.q_a));
    out.push_back(FromVector(a + "q_a_layernorm.weight", m.q_a_norm));
    out.push_back(FromMatrix(a + "q_b_proj.weight", m.q_b));
    if (layout.attention_bias) {
      out.push_back(FromVector(a + "q_a_proj.bias", m.q_a_bias ? *m.q_a_bias : VecD::Zero(m.q_a.rows())));
    }
  } else {
    out.push_back(FromMatrix(a + "q_proj.weight", m.q_proj));
  }
  out.push_back(FromMatrix(a + "kv_a_proj_with_mqa.weight", m.kv_a));
  out.push_back(FromVector(a + "kv_a_layernorm.weight", m.kv_a_norm));
  out.push_back(FromMatrix(a + "kv_b_proj.weight", m.kv_b));
  out.push_back(FromMatrix(a + "o_proj.weight", m.o_proj, output_scale));
  if (layout.attention_bias) {
    out.push_back(FromVector(a + "kv_a_proj_with_mqa.bias", m.kv_a_bias ? *m.kv_a_bias : VecD::Zero(m.kv_a.rows())));
    out.push_back(FromVector(a + "o_proj.bias", VecD::Zero(m.o_proj.rows())));
  }
  return out;
}

ModelConfig MlaModelConfig(const ModelConfig& source, const OutputLayout& layout, double rope_theta,
                           const std::vector<double>& longrope_factors, double rms_norm_eps) {
  ModelConfig c = source;
  c.architecture = Architecture::kDeepseekV3;
  c.model_type = "deepseek_v3";
  c.num_attention_heads = c.num_key_value_heads = layout.shape.heads;
  c.q_lora_rank = layout.shape.q_lora_rank;
  c.kv_lora_rank = layout.shape.kv_lora_rank;
  c.qk_nope_head_dim = layout.shape.qk_nope_head_dim;
  c.qk_rope_head_dim = layout.shape.qk_rope_head_dim;
  c.v_head_dim = layout.shape.v_head_dim;
  c.head_dim = layout.shape.qk_nope_head_dim + layout.shape.qk_rope_head_dim;
  c.attention_bias = layout.attention_bias;
  c.tie_word_embeddings = layout.tie_word_embeddings;
  c.rms_norm_eps = rms_norm_eps;
  c.kv_a_layernorm_eps = 1e-6;
  c.rope_theta = rope_theta;
  c.rope_scaling = {};
  if (!longrope_factors.empty()) {
    c.rope_scaling.type = RopeScaling::Type::kLongrope;
    c.rope_scaling.short_factor = c.rope_scaling.long_factor = longrope_factors;
    c.rope_scaling.original_max_position_embeddings = c.max_position_embeddings;
  }
  return c;
}

}  // namespace transmla::convert
