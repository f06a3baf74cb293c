#include "core/io/hf_config.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

using nlohmann::json;

json Llama3() {
  return json::parse(R"({"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192},
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "torch_dtype": "bfloat16"})");
}

absl::Status ErrorOf(json j) { return ParseModelConfig(j).status(); }

void ExpectNames(const absl::Status& s, const std::string& field) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(field), std::string::npos) << s.message();
}

TEST(HfConfigTest, ReadsTheBundledModel) {
  absl::StatusOr<ModelConfig> c = ReadModelConfig(transmla::testing::BundledModelDir());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->hidden_size, 64);
  EXPECT_EQ(c->num_key_value_heads, 4);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->eos_token_ids, std::vector<int64_t>{2});
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-5);
}

TEST(HfConfigTest, Llama3DerivesHeadDimAndReadsLlama3Scaling) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(Llama3());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c->eos_token_ids.size(), 3u);
  EXPECT_EQ(c->torch_dtype, "bfloat16");
}

TEST(HfConfigTest, TransformersFiveRopeParameters) {
  json j = Llama3();
  j.erase("rope_scaling");
  j.erase("rope_theta");
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1e6}};
  absl::StatusOr<ModelConfig> c = ParseModelConfig(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->rope_scaling.type, RopeScaling::Type::kNone);
}

TEST(HfConfigTest, Qwen2HasAttentionBias) {
  json j = Llama3();
  j["model_type"] = "qwen2";
  EXPECT_TRUE(ParseModelConfig(j)->attention_bias);
  j["model_type"] = "mistral";
  EXPECT_FALSE(ParseModelConfig(j)->attention_bias);
}

TEST(HfConfigTest, DeepseekV3Dense) {
  json j = json::parse(R"({"model_type": "deepseek_v3", "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "vocab_size": 128256, "kv_lora_rank": 512,
    "q_lora_rank": null, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128,
    "n_routed_experts": 1, "first_k_dense_replace": 32, "rope_theta": 500000})");
  absl::StatusOr<ModelConfig> c = ParseModelConfig(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, Architecture::kDeepseekV3);
  EXPECT_EQ(c->q_lora_rank, 0);
  EXPECT_EQ(c->head_dim, 192);
  j["first_k_dense_replace"] = 3;
  ExpectNames(ErrorOf(j), "MoE");
}

TEST(HfConfigTest, ErrorsNameTheField) {
  json j = Llama3();
  j["model_type"] = "gpt2";
  ExpectNames(ErrorOf(j), "unsupported model_type \"gpt2\"");
  j = Llama3();
  j["hidden_size"] = "abc";
  ExpectNames(ErrorOf(j), "hidden_size");
  j = Llama3();
  j["num_key_value_heads"] = 5;
  ExpectNames(ErrorOf(j), "num_key_value_heads");
  j = Llama3();
  j.erase("num_hidden_layers");
  ExpectNames(ErrorOf(j), "num_hidden_layers is missing");
  j = Llama3();
  j["rope_scaling"]["rope_type"] = "yarn";
  ExpectNames(ErrorOf(j), "rope_scaling.rope_type");
  j = Llama3();
  j["intermediate_size"] = -3;
  ExpectNames(ErrorOf(j), "intermediate_size");
}

TEST(HfConfigTest, MissingAndMalformedFiles) {
  EXPECT_EQ(ReadModelConfig("/nonexistent/config.json").status().code(), absl::StatusCode::kNotFound);
  const std::filesystem::path dir = transmla::testing::MakeTempDir("cfg");
  std::ofstream(dir / "config.json") << "{\"model_type\": ";
  const absl::Status s = ReadModelConfig(dir).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("invalid JSON"), std::string::npos) << s;
}

}  // namespace
}  // namespace transmla
