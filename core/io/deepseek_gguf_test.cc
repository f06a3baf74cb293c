#include "core/io/deepseek_gguf.h"

#include "core/convert/converter.h"
#include "core/io/gguf.h"
#include "core/io/tensor_store.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

using ::transmla::testing::BundledModelDir;
using ::transmla::testing::MakeTempDir;

std::vector<float> Floats(const TensorView& view) {
  std::vector<float> out;
  EXPECT_TRUE(ConvertToFloat(view, &out).ok());
  return out;
}

TEST(DeepseekGgufTest, WritesTheDeepseek2LayoutLlamaCppLoads) {
  const std::filesystem::path dir = MakeTempDir("ds_gguf");
  convert::ConversionOptions options;
  ASSERT_TRUE(convert::ConvertModel(BundledModelDir(), dir / "mla", options).ok());
  absl::StatusOr<std::filesystem::path> path = ExportDeepseekGguf(dir / "mla", dir / "mla.gguf", DType::kF32);
  ASSERT_TRUE(path.ok()) << path.status();
  absl::StatusOr<GgufFile> g = GgufFile::Open(*path);
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<ModelConfig> c = ReadModelConfig(dir / "mla" / "config.json");
  ASSERT_TRUE(c.ok());
  for (const char* key :
       {"general.architecture", "deepseek2.block_count", "deepseek2.attention.head_count_kv",
        "deepseek2.attention.kv_lora_rank", "deepseek2.attention.q_lora_rank", "deepseek2.attention.key_length",
        "deepseek2.attention.value_length", "deepseek2.attention.key_length_mla", "deepseek2.attention.value_length_mla",
        "deepseek2.rope.dimension_count", "deepseek2.leading_dense_block_count", "deepseek2.expert_shared_count",
        "deepseek2.expert_feed_forward_length", "tokenizer.ggml.model", "tokenizer.ggml.tokens",
        "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id"}) {
    EXPECT_TRUE(g->Has(key)) << key;
  }
  const int64_t h = c->num_attention_heads, r = c->kv_lora_rank, nope = c->qk_nope_head_dim, v = c->v_head_dim;
  const int64_t rope = c->qk_rope_head_dim;
  const auto shape = [&](const std::string& name) {
    absl::StatusOr<TensorView> t = g->Tensor(name);
    return t.ok() ? t->shape : std::vector<int64_t>{-1};
  };
  EXPECT_EQ(shape("blk.0.attn_kv_a_mqa.weight"), (std::vector<int64_t>{r + rope, c->hidden_size}));
  EXPECT_EQ(shape("blk.4.attn_k_b.weight"), (std::vector<int64_t>{h, r, nope}));
  EXPECT_EQ(shape("blk.4.attn_v_b.weight"), (std::vector<int64_t>{h, v, r}));
  EXPECT_EQ(shape("blk.0.attn_q.weight"), (std::vector<int64_t>{h * (nope + rope), c->hidden_size}));
  EXPECT_EQ(shape("blk.0.attn_kv_b.weight"), std::vector<int64_t>{-1});
  EXPECT_EQ(shape("output.weight"), (std::vector<int64_t>{c->vocab_size, c->hidden_size}));  // conversions untie

  // k_b[head][k][j] is kv_b[head * (nope + v) + j][k]; v_b[head][j][k] is kv_b[head * (nope + v) + nope + j][k].
  absl::StatusOr<TensorStore> store = TensorStore::OpenSafetensors(dir / "mla");
  ASSERT_TRUE(store.ok());
  const std::vector<float> kv_b = Floats(*store->Get("model.layers.2.self_attn.kv_b_proj.weight"));
  const std::vector<float> k_b = Floats(*g->Tensor("blk.2.attn_k_b.weight"));
  const std::vector<float> v_b = Floats(*g->Tensor("blk.2.attn_v_b.weight"));
  const int64_t head = h - 1, k = r - 1, j = 1;
  EXPECT_EQ(k_b[(head * r + k) * nope + j], kv_b[(head * (nope + v) + j) * r + k]);
  EXPECT_EQ(v_b[(head * v + j) * r + k], kv_b[(head * (nope + v) + nope + j) * r + k]);
}

TEST(DeepseekGgufTest, RefusesSourceModelsLongropeAndOtherDtypes) {
  const std::filesystem::path dir = MakeTempDir("ds_gguf_bad");
  absl::Status s = ExportDeepseekGguf(BundledModelDir(), dir / "x.gguf", DType::kF32).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("deepseek_v3"), std::string::npos) << s;

  convert::ConversionOptions options;
  options.mode = convert::Mode::kExact;
  ASSERT_TRUE(convert::ConvertModel(BundledModelDir(), dir / "exact", options).ok());
  s = ExportDeepseekGguf(dir / "exact", dir / "x.gguf", DType::kF32).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("longrope"), std::string::npos) << s;
  s = ExportDeepseekGguf(dir / "exact", dir / "x.gguf", DType::kBF16).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
}

}  // namespace
}  // namespace transmla
