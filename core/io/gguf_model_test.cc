#include "core/io/gguf_model.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/engine/model_loader.h"
#include "core/eval/perplexity.h"
#include "core/io/gguf.h"
#include "core/io/gguf_writer.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"
#include "core/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

std::filesystem::path StoriesGguf() {
  const std::filesystem::path shared = transmla::testing::SharedDir();
  return shared.empty() ? shared : shared / "models" / "stories260K.gguf";
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(GgufModelTest, ConfigMatchesTheHfConfig) {
  absl::StatusOr<GgufModel> gguf = LoadGgufModel(StoriesGguf());
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  absl::StatusOr<ModelConfig> hf = ReadModelConfig(transmla::testing::BundledModelDir());
  ASSERT_TRUE(hf.ok()) << hf.status();
  const ModelConfig& c = gguf->config;
  EXPECT_EQ(c.architecture, Architecture::kLlama);
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.hidden_size, hf->hidden_size);
  EXPECT_EQ(c.intermediate_size, hf->intermediate_size);
  EXPECT_EQ(c.num_hidden_layers, hf->num_hidden_layers);
  EXPECT_EQ(c.num_attention_heads, hf->num_attention_heads);
  EXPECT_EQ(c.num_key_value_heads, hf->num_key_value_heads);
  EXPECT_EQ(c.head_dim, hf->head_dim);
  EXPECT_EQ(c.vocab_size, hf->vocab_size);
  EXPECT_EQ(c.rms_norm_eps, static_cast<double>(1e-5f));  // GGUF stores it as float32
  EXPECT_EQ(c.rope_theta, 10000.0);                       // no llama.rope.freq_base: the default
  EXPECT_EQ(c.max_position_embeddings, 2048);             // the GGUF says 2048, config.json 512
  EXPECT_EQ(c.bos_token_id, hf->bos_token_id);
  EXPECT_EQ(c.eos_token_ids, hf->eos_token_ids);
  EXPECT_FALSE(c.tie_word_embeddings);  // the converter wrote output.weight separately
  EXPECT_EQ(gguf->vocab.tokens.size(), 512u);
  EXPECT_EQ(gguf->vocab.tokens[259], "▁t");
  EXPECT_EQ(gguf->vocab.bos_id, 1);
  ASSERT_NE(gguf->tokenizer, nullptr);
}

TEST(GgufModelTest, TensorsEqualTheHfFolderAfterUndoingTheQkPermutation) {
  absl::StatusOr<GgufModel> gguf = LoadGgufModel(StoriesGguf());
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  absl::StatusOr<TensorStore> hf = TensorStore::OpenSafetensors(transmla::testing::BundledModelDir());
  ASSERT_TRUE(hf.ok()) << hf.status();
  // The HF model ties lm_head to the embedding; the GGUF stores output.weight, which must equal it.
  std::vector<std::string> names = gguf->tensors.Names();
  EXPECT_EQ(names.size(), 48u);
  names.erase(std::remove(names.begin(), names.end(), "lm_head.weight"), names.end());
  EXPECT_EQ(names, hf->Names());
  const TensorView head = *gguf->tensors.Get("lm_head.weight");
  const TensorView embed = *hf->Get("model.embed_tokens.weight");
  ASSERT_EQ(head.nbytes, embed.nbytes);
  EXPECT_EQ(std::memcmp(head.data, embed.data, head.nbytes), 0);
  for (const std::string& name : hf->Names()) {
    const TensorView a = *hf->Get(name);
    const absl::StatusOr<TensorView> b = gguf->tensors.Get(name);
    ASSERT_TRUE(b.ok()) << name;
    EXPECT_EQ(b->name, name);
    EXPECT_EQ(a.dtype, b->dtype) << name;
    EXPECT_EQ(a.shape, b->shape) << name;
    ASSERT_EQ(a.nbytes, b->nbytes) << name;
    EXPECT_EQ(std::memcmp(a.data, b->data, a.nbytes), 0) << name;
  }
}

TEST(GgufModelTest, QAndKAreStoredInterleavedInTheFile) {
  // Pins down the permutation itself: GGUF row (h, 2i + s) is HF row (h, s * head_dim/2 + i).
  absl::StatusOr<GgufFile> file = GgufFile::Open(StoriesGguf());
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<TensorStore> hf = TensorStore::OpenSafetensors(transmla::testing::BundledModelDir());
  ASSERT_TRUE(hf.ok()) << hf.status();
  struct Case {
    const char* gguf;
    const char* hf;
    int64_t heads;
  };
  for (const Case& c : {Case{"blk.2.attn_q.weight", "model.layers.2.self_attn.q_proj.weight", 8},
                        Case{"blk.2.attn_k.weight", "model.layers.2.self_attn.k_proj.weight", 4}}) {
    const TensorView g = *file->Tensor(c.gguf);
    const TensorView h = *hf->Get(c.hf);
    const int64_t head_dim = 8, half = 4;
    const size_t row_bytes = static_cast<size_t>(g.shape[1]) * 4;
    ASSERT_EQ(g.shape[0], c.heads * head_dim);
    EXPECT_NE(std::memcmp(g.data, h.data, g.nbytes), 0) << c.gguf << " is not permuted at all";
    for (int64_t head = 0; head < c.heads; ++head) {
      for (int64_t i = 0; i < half; ++i) {
        for (int64_t s = 0; s < 2; ++s) {
          const int64_t gguf_row = head * head_dim + 2 * i + s;
          const int64_t hf_row = head * head_dim + s * half + i;
          EXPECT_EQ(std::memcmp(g.data + gguf_row * row_bytes, h.data + hf_row * row_bytes, row_bytes), 0)
              << c.gguf << " row " << gguf_row;
        }
      }
    }
  }
}

TEST(GgufModelTest, GivesTheSameTokensAndLogitsAsTheHfFolder) {
  absl::StatusOr<LoadedModel> from_gguf = LoadModel(StoriesGguf());
  absl::StatusOr<LoadedModel> from_hf = LoadModel(transmla::testing::BundledModelDir());
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.status();
  ASSERT_TRUE(from_hf.ok()) << from_hf.status();
  const std::string text = ReadAll(transmla::testing::SharedDir() / "data" / "tinystories_val.txt");
  const std::vector<std::string_view> docs = SplitDocuments(text);
  ASSERT_GE(docs.size(), 300u);
  for (size_t i = 0; i < 300; ++i) {
    ASSERT_EQ(from_gguf->tokenizer->Encode(docs[i], true), from_hf->tokenizer->Encode(docs[i], true)) << "story " << i;
  }
  const std::vector<int32_t> ids = from_hf->tokenizer->Encode(docs[0], true);
  std::vector<std::vector<float>> a, b;
  auto sa = from_gguf->engine->NewSequence();
  auto sb = from_hf->engine->NewSequence();
  ASSERT_TRUE(from_gguf->engine->Forward({{sa.get(), ids, true}}, &a).ok());
  ASSERT_TRUE(from_hf->engine->Forward({{sb.get(), ids, true}}, &b).ok());
  EXPECT_EQ(a[0], b[0]);  // same weights, same arithmetic
}

// Rewrites stories260K.gguf with some metadata replaced (everything else copied as read).
std::filesystem::path RewriteStories(const std::string& tag,
                                     const std::vector<std::pair<std::string, GgufValue>>& replacements,
                                     const std::vector<std::string>& drop_tensors = {}) {
  absl::StatusOr<GgufFile> src = GgufFile::Open(StoriesGguf());
  EXPECT_TRUE(src.ok()) << src.status();
  std::vector<std::pair<std::string, GgufValue>> metadata = src->metadata();
  for (auto& [key, value] : metadata) {
    for (const auto& [new_key, new_value] : replacements) {
      if (key == new_key) value = new_value;
    }
  }
  std::vector<TensorSpec> specs;
  std::vector<TensorView> views;
  for (const std::string& name : src->TensorNames()) {
    if (std::find(drop_tensors.begin(), drop_tensors.end(), name) != drop_tensors.end()) continue;
    views.push_back(*src->Tensor(name));
    specs.push_back({name, views.back().dtype, views.back().shape});
  }
  const std::filesystem::path path = transmla::testing::MakeTempDir(tag) / "model.gguf";
  auto writer = GgufWriter::Create(path, metadata, specs);
  EXPECT_TRUE(writer.ok()) << writer.status();
  for (const TensorView& v : views) EXPECT_TRUE((*writer)->Write(v.name, v.data, v.nbytes).ok());
  EXPECT_TRUE((*writer)->Commit().ok());
  return path;
}

TEST(GgufModelTest, RejectsOtherArchitecturesNamingThem) {
  const std::filesystem::path path =
      RewriteStories("gguf_arch", {{"general.architecture", GgufValue::String("qwen2")}});
  const absl::Status s = LoadGgufModel(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("\"qwen2\""), std::string::npos) << s;
}

TEST(GgufModelTest, TiesTheEmbeddingWhenOutputWeightIsAbsent) {
  const std::filesystem::path path = RewriteStories("gguf_tied", {}, {"output.weight"});
  absl::StatusOr<GgufModel> model = LoadGgufModel(path);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->config.tie_word_embeddings);
  EXPECT_EQ(model->tensors.Find("lm_head.weight"), nullptr);
  EXPECT_NE(model->tensors.Find("model.embed_tokens.weight"), nullptr);
}

TEST(GgufModelTest, MissingTensorOrKeyIsNamed) {
  const std::filesystem::path no_k = RewriteStories("gguf_no_k", {}, {"blk.3.attn_k.weight"});
  const absl::Status s = LoadGgufModel(no_k).status();
  EXPECT_NE(s.message().find("blk.3.attn_k.weight"), std::string::npos) << s;
  // A head count that does not divide the rows of attn_q cannot be un-permuted.
  const std::filesystem::path heads =
      RewriteStories("gguf_heads", {{"llama.attention.head_count", GgufValue::Uint32(3)},
                                    {"llama.attention.head_count_kv", GgufValue::Uint32(3)}});
  EXPECT_FALSE(LoadGgufModel(heads).ok());
}

}  // namespace
}  // namespace transmla
