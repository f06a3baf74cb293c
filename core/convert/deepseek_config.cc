#include "core/convert/deepseek_config.h"

#include <cmath>

namespace transmla::convert {

RopeEncoding EncodeRopeFrequencies(const std::vector<double>& frequencies, double theta) {
  RopeEncoding enc;
  const double r = 2.0 * static_cast<double>(frequencies.size());
  // A geometric schedule theta'^(-2i/r) starting at 1 has theta' = f_1^(-r/2).
  bool geometric = !frequencies.empty() && std::abs(frequencies[0] - 1.0) < 1e-9;
  if (geometric && frequencies.size() > 1) {
    enc.theta = std::pow(frequencies[1], -r / 2.0);
    for (size_t i = 0; i < frequencies.size() && geometric; ++i) {
      const double want = std::pow(enc.theta, -2.0 * static_cast<double>(i) / r);
      geometric = std::abs(frequencies[i] - want) <= 1e-6 * want;
    }
  } else if (geometric) {
    enc.theta = theta;
  }
  if (geometric) return enc;
  enc.theta = theta;
  enc.longrope = true;
  for (size_t p = 0; p < frequencies.size(); ++p) {
    enc.factors.push_back(1.0 / (frequencies[p] * std::pow(theta, 2.0 * static_cast<double>(p) / r)));
  }
  return enc;
}

nlohmann::json MakeDeepseekConfig(const ModelConfig& source, const MlaShape& shape, const RopeEncoding& rope,
                                  double rms_norm_eps, bool tie_word_embeddings, bool attention_bias,
                                  const std::string& torch_dtype) {
  nlohmann::json c;
  c["architectures"] = {"DeepseekV3ForCausalLM"};
  c["model_type"] = "deepseek_v3";
  c["vocab_size"] = source.vocab_size;
  c["hidden_size"] = source.hidden_size;
  c["intermediate_size"] = source.intermediate_size;
  c["moe_intermediate_size"] = source.intermediate_size;
  c["num_hidden_layers"] = source.num_hidden_layers;
  c["num_attention_heads"] = shape.heads;
  c["num_key_value_heads"] = shape.heads;
  c["n_shared_experts"] = 1;
  c["n_routed_experts"] = 1;
  c["num_experts_per_tok"] = 1;
  c["n_group"] = 1;
  c["topk_group"] = 1;
  c["first_k_dense_replace"] = source.num_hidden_layers;
  c["routed_scaling_factor"] = 1.0;
  c["norm_topk_prob"] = true;
  c["kv_lora_rank"] = shape.kv_lora_rank;
  c["q_lora_rank"] = shape.q_lora_rank > 0 ? nlohmann::json(shape.q_lora_rank) : nlohmann::json(nullptr);
  c["qk_rope_head_dim"] = shape.qk_rope_head_dim;
  c["qk_nope_head_dim"] = shape.qk_nope_head_dim;
  c["v_head_dim"] = shape.v_head_dim;
  c["head_dim"] = shape.qk_rope_head_dim;
  c["hidden_act"] = "silu";
  c["max_position_embeddings"] = source.max_position_embeddings;
  c["rms_norm_eps"] = rms_norm_eps;
  c["rope_theta"] = rope.theta;
  c["rope_interleave"] = true;
  if (rope.longrope) {
    c["rope_scaling"] = {{"rope_type", "longrope"},
                         {"type", "longrope"},
                         {"short_factor", rope.factors},
                         {"long_factor", rope.factors},
                         {"factor", 1.0},
                         {"original_max_position_embeddings", source.max_position_embeddings}};
  } else {
    c["rope_scaling"] = nullptr;
  }
  c["attention_bias"] = attention_bias;
  c["attention_dropout"] = 0.0;
  c["tie_word_embeddings"] = tie_word_embeddings;
  if (source.bos_token_id >= 0) c["bos_token_id"] = source.bos_token_id;
  if (source.eos_token_ids.size() == 1) c["eos_token_id"] = source.eos_token_ids.front();
  if (source.eos_token_ids.size() > 1) c["eos_token_id"] = source.eos_token_ids;
  c["initializer_range"] = 0.02;
  c["use_cache"] = true;
  c["torch_dtype"] = torch_dtype;
  return c;
}

std::vector<std::string> CompatibleEngines(const RopeEncoding& rope) {
  if (rope.longrope) return {"transformers (DeepseekV3ForCausalLM)", "transmla"};
  return {"transformers (DeepseekV3ForCausalLM)", "vLLM", "SGLang", "llama.cpp (deepseek2)", "transmla"};
}

}  // namespace transmla::convert
