#ifndef TRANSMLA_CORE_IO_HF_CONFIG_H_
#define TRANSMLA_CORE_IO_HF_CONFIG_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace transmla {

enum class Architecture { kLlama, kDeepseekV3 };

// How RoPE frequencies are rescaled (HF `rope_scaling` / `rope_parameters`).
struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3, kLongrope };
  Type type = Type::kNone;
  double factor = 1.0;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
  // longrope: one factor per rotary pair; the product uses short == long (see SPEC §4).
  std::vector<double> short_factor;
  std::vector<double> long_factor;
};

// A typed HF config.json for the architectures we run. Llama-family models (model_type llama,
// mistral, qwen2) set the GQA fields; deepseek_v3 (dense, as our converter emits it) also sets
// the MLA fields.
struct ModelConfig {
  Architecture architecture = Architecture::kLlama;
  std::string model_type;  // "llama", "mistral", "qwen2", "deepseek_v3"
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // explicit or hidden_size / num_attention_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (qwen2 always has them)
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  std::string torch_dtype;  // as written, may be empty

  // deepseek_v3 only.
  int64_t q_lora_rank = 0;  // 0: plain q_proj
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  double kv_a_layernorm_eps = 1e-6;  // what transformers uses for kv_a_layernorm, whatever the config
};

// Parses a config.json object. Fails with InvalidArgument naming the field: unsupported
// architecture/model_type, missing or non-positive sizes, heads not dividing, head_dim
// inconsistent, unknown rope_scaling type.
absl::StatusOr<ModelConfig> ParseModelConfig(const nlohmann::json& json);

// Reads and parses `path` (a config.json, or a directory holding one).
absl::StatusOr<ModelConfig> ReadModelConfig(const std::filesystem::path& path);

// Reads a JSON file with a clear error (NotFound / InvalidArgument naming file, line and column).
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::filesystem::path& path);

}  // namespace transmla

#endif  // TRANSMLA_CORE_IO_HF_CONFIG_H_
