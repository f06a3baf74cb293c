#ifndef TRANSMLA_CORE_CONVERT_DEEPSEEK_CONFIG_H_
#define TRANSMLA_CORE_CONVERT_DEEPSEEK_CONFIG_H_

#include <string>
#include <vector>

#include "core/convert/mla_layer.h"
#include "core/io/hf_config.h"
#include "nlohmann/json.hpp"

namespace transmla::convert {

// How the output's RoPE frequencies are expressed: a plain geometric schedule (runs in every
// engine) or per-pair longrope factors (transformers only; see SPEC §4).
struct RopeEncoding {
  double theta = 10000.0;
  bool longrope = false;
  std::vector<double> factors;  // longrope short_factor == long_factor, one per pair
};

// Encodes wanted per-pair frequencies (for qk_rope_head_dim = 2 * frequencies.size()). Uses plain
// RoPE with theta' when frequencies follow theta'^(-2i/r) within 1e-6 relative, else longrope
// factors factor_p = 1 / (f_p * theta^(2p/r)).
RopeEncoding EncodeRopeFrequencies(const std::vector<double>& frequencies, double theta);

// A stock DeepSeek-V3 config.json: every layer dense (first_k_dense_replace = num_hidden_layers,
// integer expert counts, which transformers requires), rms_norm_eps as given (the converter
// writes 1e-6, the eps transformers uses for kv_a_layernorm whatever the config says).
nlohmann::json MakeDeepseekConfig(const ModelConfig& source, const MlaShape& shape, const RopeEncoding& rope,
                                  double rms_norm_eps, bool tie_word_embeddings, bool attention_bias,
                                  const std::string& torch_dtype);

// Engines that run an output with this RoPE encoding correctly, for reports and the terminal.
std::vector<std::string> CompatibleEngines(const RopeEncoding& rope);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_DEEPSEEK_CONFIG_H_
