#include "core/io/hf_config.h"

#include <fstream>
#include <sstream>

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

using nlohmann::json;

absl::Status FieldError(std::string_view field, const std::string& what) {
  return absl::InvalidArgumentError(fmt::format("config.json: {} {}", field, what));
}

// Reads integer `field`: required fields must be present; a null counts as absent.
absl::StatusOr<int64_t> GetInt(const json& j, const char* field, std::optional<int64_t> fallback) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    if (fallback) return *fallback;
    return FieldError(field, "is missing");
  }
  if (!it->is_number_integer()) return FieldError(field, fmt::format("must be an integer, got {}", it->dump()));
  return it->get<int64_t>();
}

absl::StatusOr<int64_t> GetPositive(const json& j, const char* field, std::optional<int64_t> fallback = std::nullopt) {
  ASSIGN_OR_RETURN(int64_t v, GetInt(j, field, fallback));
  if (v <= 0) return FieldError(field, fmt::format("must be positive, got {}", v));
  return v;
}

absl::StatusOr<double> GetNumber(const json& j, const char* field, double fallback) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) return FieldError(field, fmt::format("must be a number, got {}", it->dump()));
  return it->get<double>();
}

absl::StatusOr<std::vector<double>> GetNumbers(const json& j, const char* field) {
  const auto it = j.find(field);
  if (it == j.end() || !it->is_array()) return FieldError(fmt::format("rope_scaling.{}", field), "must be a list of numbers");
  std::vector<double> out;
  for (const auto& v : *it) {
    if (!v.is_number()) return FieldError(fmt::format("rope_scaling.{}", field), "must be a list of numbers");
    out.push_back(v.get<double>());
  }
  return out;
}

absl::StatusOr<RopeScaling> ParseRopeScaling(const json& j, int64_t max_position_embeddings) {
  RopeScaling s;
  if (j.is_null()) return s;
  if (!j.is_object()) return FieldError("rope_scaling", "must be an object or null");
  std::string type;
  if (j.contains("rope_type") && j["rope_type"].is_string()) type = j["rope_type"].get<std::string>();
  else if (j.contains("type") && j["type"].is_string()) type = j["type"].get<std::string>();
  ASSIGN_OR_RETURN(s.factor, GetNumber(j, "factor", 1.0));
  if (type.empty() || type == "default") return RopeScaling{};
  if (type == "linear") {
    s.type = RopeScaling::Type::kLinear;
  } else if (type == "llama3") {
    s.type = RopeScaling::Type::kLlama3;
    ASSIGN_OR_RETURN(s.low_freq_factor, GetNumber(j, "low_freq_factor", 1.0));
    ASSIGN_OR_RETURN(s.high_freq_factor, GetNumber(j, "high_freq_factor", 4.0));
    ASSIGN_OR_RETURN(s.original_max_position_embeddings, GetPositive(j, "original_max_position_embeddings", 8192));
    if (s.high_freq_factor <= s.low_freq_factor) {
      return FieldError("rope_scaling.high_freq_factor", "must exceed low_freq_factor");
    }
  } else if (type == "longrope") {
    s.type = RopeScaling::Type::kLongrope;
    ASSIGN_OR_RETURN(s.short_factor, GetNumbers(j, "short_factor"));
    ASSIGN_OR_RETURN(s.long_factor, GetNumbers(j, "long_factor"));
    ASSIGN_OR_RETURN(s.original_max_position_embeddings,
                     GetPositive(j, "original_max_position_embeddings", max_position_embeddings));
  } else {
    return FieldError("rope_scaling.rope_type", fmt::format("\"{}\" is not supported (linear, llama3, longrope)", type));
  }
  if (s.factor <= 0) return FieldError("rope_scaling.factor", "must be positive");
  return s;
}

absl::Status ParseLlamaFamily(const json& j, ModelConfig* c) {
  ASSIGN_OR_RETURN(c->num_key_value_heads, GetPositive(j, "num_key_value_heads", c->num_attention_heads));
  if (c->num_attention_heads % c->num_key_value_heads != 0) {
    return FieldError("num_key_value_heads", fmt::format("({}) must divide num_attention_heads ({})",
                                                         c->num_key_value_heads, c->num_attention_heads));
  }
  const bool derived = !j.contains("head_dim") || j["head_dim"].is_null();
  if (derived && c->hidden_size % c->num_attention_heads != 0) {
    return FieldError("hidden_size", fmt::format("({}) is not a multiple of num_attention_heads ({}) and head_dim is absent",
                                                 c->hidden_size, c->num_attention_heads));
  }
  ASSIGN_OR_RETURN(c->head_dim, GetPositive(j, "head_dim", c->hidden_size / c->num_attention_heads));
  const auto bias = j.find("attention_bias");
  c->attention_bias = c->model_type == "qwen2";
  if (bias != j.end() && !bias->is_null()) {
    if (!bias->is_boolean()) return FieldError("attention_bias", "must be a boolean");
    c->attention_bias = bias->get<bool>();
  }
  return absl::OkStatus();
}

absl::Status ParseDeepseek(const json& j, ModelConfig* c) {
  c->architecture = Architecture::kDeepseekV3;
  ASSIGN_OR_RETURN(c->q_lora_rank, GetInt(j, "q_lora_rank", 0));
  ASSIGN_OR_RETURN(c->kv_lora_rank, GetPositive(j, "kv_lora_rank"));
  ASSIGN_OR_RETURN(c->qk_nope_head_dim, GetInt(j, "qk_nope_head_dim", std::nullopt));
  ASSIGN_OR_RETURN(c->qk_rope_head_dim, GetPositive(j, "qk_rope_head_dim"));
  ASSIGN_OR_RETURN(c->v_head_dim, GetPositive(j, "v_head_dim"));
  if (c->q_lora_rank < 0 || c->qk_nope_head_dim < 0) return FieldError("q_lora_rank/qk_nope_head_dim", "must be >= 0");
  if (c->qk_rope_head_dim % 2 != 0) return FieldError("qk_rope_head_dim", "must be even");
  c->num_key_value_heads = c->num_attention_heads;
  c->head_dim = c->qk_nope_head_dim + c->qk_rope_head_dim;
  ASSIGN_OR_RETURN(const int64_t routed, GetInt(j, "n_routed_experts", 0));
  ASSIGN_OR_RETURN(const int64_t first_dense, GetInt(j, "first_k_dense_replace", 0));
  if (routed > 0 && first_dense < c->num_hidden_layers) {
    return FieldError("n_routed_experts",
                      fmt::format("{} with first_k_dense_replace {} < num_hidden_layers {}: MoE layers are not supported",
                                  routed, first_dense, c->num_hidden_layers));
  }
  if (j.contains("rope_interleave") && j["rope_interleave"].is_boolean() && !j["rope_interleave"].get<bool>()) {
    return FieldError("rope_interleave", "false is not supported (DeepSeek checkpoints use interleaved RoPE)");
  }
  const auto bias = j.find("attention_bias");
  c->attention_bias = bias != j.end() && bias->is_boolean() && bias->get<bool>();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ParseModelConfig(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("config.json is not a JSON object");
  ModelConfig c;
  const auto type = j.find("model_type");
  if (type == j.end() || !type->is_string()) return FieldError("model_type", "is missing");
  c.model_type = type->get<std::string>();
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2" &&
      c.model_type != "deepseek_v3") {
    return absl::InvalidArgumentError(fmt::format(
        "config.json: unsupported model_type \"{}\" (supported: llama, mistral, qwen2, deepseek_v3)", c.model_type));
  }
  if (j.contains("hidden_act") && j["hidden_act"] != "silu") {
    return FieldError("hidden_act", fmt::format("{} is not supported (silu)", j["hidden_act"].dump()));
  }
  ASSIGN_OR_RETURN(c.hidden_size, GetPositive(j, "hidden_size"));
  ASSIGN_OR_RETURN(c.intermediate_size, GetPositive(j, "intermediate_size"));
  ASSIGN_OR_RETURN(c.num_hidden_layers, GetPositive(j, "num_hidden_layers"));
  ASSIGN_OR_RETURN(c.num_attention_heads, GetPositive(j, "num_attention_heads"));
  ASSIGN_OR_RETURN(c.vocab_size, GetPositive(j, "vocab_size"));
  ASSIGN_OR_RETURN(c.max_position_embeddings, GetPositive(j, "max_position_embeddings", 2048));
  ASSIGN_OR_RETURN(c.rms_norm_eps, GetNumber(j, "rms_norm_eps", 1e-6));
  if (c.rms_norm_eps <= 0) return FieldError("rms_norm_eps", "must be positive");
  // transformers 5 nests rope settings in rope_parameters; older configs keep them at the top.
  const json rope = j.contains("rope_parameters") && j["rope_parameters"].is_object() ? j["rope_parameters"] : j;
  ASSIGN_OR_RETURN(c.rope_theta, GetNumber(rope, "rope_theta", GetNumber(j, "rope_theta", 10000.0).value_or(10000.0)));
  if (c.rope_theta <= 0) return FieldError("rope_theta", "must be positive");
  const json& scaling = j.contains("rope_parameters") && j["rope_parameters"].is_object()
                            ? j["rope_parameters"]
                            : (j.contains("rope_scaling") ? j["rope_scaling"] : json(nullptr));
  ASSIGN_OR_RETURN(c.rope_scaling, ParseRopeScaling(scaling, c.max_position_embeddings));
  const auto tie = j.find("tie_word_embeddings");
  c.tie_word_embeddings = tie != j.end() && tie->is_boolean() && tie->get<bool>();
  ASSIGN_OR_RETURN(c.bos_token_id, GetInt(j, "bos_token_id", -1));
  if (const auto eos = j.find("eos_token_id"); eos != j.end()) {
    if (eos->is_number_integer()) c.eos_token_ids.push_back(eos->get<int64_t>());
    else if (eos->is_array()) {
      for (const auto& v : *eos) {
        if (!v.is_number_integer()) return FieldError("eos_token_id", "must be an integer or a list of integers");
        c.eos_token_ids.push_back(v.get<int64_t>());
      }
    } else if (!eos->is_null()) {
      return FieldError("eos_token_id", "must be an integer or a list of integers");
    }
  }
  for (const char* key : {"torch_dtype", "dtype"}) {
    if (j.contains(key) && j[key].is_string()) c.torch_dtype = j[key].get<std::string>();
  }
  if (c.model_type == "deepseek_v3") {
    RETURN_IF_ERROR(ParseDeepseek(j, &c));
  } else {
    RETURN_IF_ERROR(ParseLlamaFamily(j, &c));
  }
  return c;
}

absl::StatusOr<json> ReadJsonFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("file not found: {}", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  json parsed = json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    try {
      (void)json::parse(buffer.str());
    } catch (const json::parse_error& e) {
      return absl::InvalidArgumentError(fmt::format("{}: invalid JSON: {}", path.string(), e.what()));
    }
    return absl::InvalidArgumentError(fmt::format("{}: invalid JSON", path.string()));
  }
  return parsed;
}

absl::StatusOr<ModelConfig> ReadModelConfig(const std::filesystem::path& path) {
  std::error_code ec;
  const std::filesystem::path file = std::filesystem::is_directory(path, ec) ? path / "config.json" : path;
  ASSIGN_OR_RETURN(json j, ReadJsonFile(file));
  absl::StatusOr<ModelConfig> config = ParseModelConfig(j);
  if (!config.ok()) {
    return absl::Status(config.status().code(), fmt::format("{}: {}", file.string(), std::string(config.status().message())));
  }
  return config;
}

}  // namespace transmla
