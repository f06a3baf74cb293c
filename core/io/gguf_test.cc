#include "core/io/gguf.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "core/engine/model_loader.h"
#include "core/eval/perplexity.h"
#include "core/io/gguf_model.h"
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

TEST(GgufTest, ReadsStories260KMetadataAndVocabulary) {
  absl::StatusOr<GgufFile> g = GgufFile::Open(StoriesGguf());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(*g->GetString("general.architecture"), "llama");
  EXPECT_EQ(*g->GetInt("llama.block_count"), 5);
  EXPECT_EQ(*g->GetInt("llama.attention.head_count_kv"), 4);
  const std::vector<std::string> tokens = *g->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[259], "▁t");
  EXPECT_EQ(g->GetString("no.such.key").status().code(), absl::StatusCode::kNotFound);
}

TEST(GgufModelTest, TensorsEqualTheHfFolderAfterUndoingTheQkPermutation) {
  absl::StatusOr<GgufModel> gguf = LoadGgufModel(StoriesGguf());
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  absl::StatusOr<TensorStore> hf = TensorStore::OpenSafetensors(transmla::testing::BundledModelDir());
  ASSERT_TRUE(hf.ok());
  // The GGUF stores the (tied) output matrix separately; it must equal the embedding.
  std::vector<std::string> names = gguf->tensors.Names();
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
    EXPECT_EQ(a.shape, b->shape) << name;
    ASSERT_EQ(a.nbytes, b->nbytes) << name;
    EXPECT_EQ(std::memcmp(a.data, b->data, a.nbytes), 0) << name;
  }
}

TEST(GgufModelTest, GivesTheSameLogitsAndTokensAsTheHfFolder) {
  absl::StatusOr<LoadedModel> from_gguf = LoadModel(StoriesGguf());
  absl::StatusOr<LoadedModel> from_hf = LoadModel(transmla::testing::BundledModelDir());
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.status();
  ASSERT_TRUE(from_hf.ok());
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

class MalformedGgufTest : public ::testing::Test {
 protected:
  absl::Status OpenBytes(const std::string& bytes) {
    const std::filesystem::path path = transmla::testing::MakeTempDir("gguf") / "bad.gguf";
    std::ofstream(path, std::ios::binary) << bytes;
    return GgufFile::Open(path).status();
  }
  std::string Valid() { return ReadAll(StoriesGguf()); }
};

TEST_F(MalformedGgufTest, RejectsBadMagicVersionAndTruncation) {
  std::string bytes = Valid();
  bytes[0] = 'X';
  EXPECT_NE(OpenBytes(bytes).message().find("bad magic"), std::string::npos);
  bytes = Valid();
  bytes[4] = 9;
  EXPECT_NE(OpenBytes(bytes).message().find("version 9"), std::string::npos);
  EXPECT_NE(OpenBytes(Valid().substr(0, 30)).message().find("truncated"), std::string::npos);
  EXPECT_EQ(OpenBytes(Valid().substr(0, 100)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenBytes("").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MalformedGgufTest, RejectsStringLengthAndTensorDataBeyondTheFile) {
  std::string bytes = Valid();
  const uint64_t huge = uint64_t{1} << 50;
  std::memcpy(&bytes[24], &huge, 8);  // length of the first metadata key
  EXPECT_NE(OpenBytes(bytes).message().find("beyond the file"), std::string::npos);
  const std::string valid = Valid();
  EXPECT_NE(OpenBytes(valid.substr(0, valid.size() - 1000)).message().find("beyond the end"), std::string::npos);
}

}  // namespace
}  // namespace transmla
