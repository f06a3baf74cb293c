#include "core/io/gguf_vocab.h"

#include "core/io/gguf_writer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

std::filesystem::path StoriesGguf() {
  const std::filesystem::path shared = transmla::testing::SharedDir();
  return shared.empty() ? shared : shared / "models" / "stories260K.gguf";
}

absl::StatusOr<GgufFile> WriteMetadataOnly(const std::vector<std::pair<std::string, GgufValue>>& metadata,
                                           const std::string& tag) {
  const std::filesystem::path path = transmla::testing::MakeTempDir(tag) / "vocab.gguf";
  auto writer = GgufWriter::Create(path, metadata, {});
  if (!writer.ok()) return writer.status();
  auto committed = (*writer)->Commit();
  if (!committed.ok()) return committed.status();
  return GgufFile::Open(path);
}

TEST(GgufVocabTest, ReadsStories260KVocabulary) {
  absl::StatusOr<GgufFile> g = GgufFile::Open(StoriesGguf());
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<GgufVocab> vocab = ReadGgufVocab(*g);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ(vocab->model, "llama");
  ASSERT_EQ(vocab->tokens.size(), 512u);
  EXPECT_EQ(vocab->tokens[259], "▁t");
  EXPECT_EQ(vocab->tokens[3], "<0x00>");
  ASSERT_EQ(vocab->scores.size(), 512u);
  EXPECT_EQ(vocab->scores[0], 0.0f);
  EXPECT_GT(vocab->scores[259], vocab->scores[511]);  // earlier merges score higher
  ASSERT_EQ(vocab->token_types.size(), 512u);
  EXPECT_EQ(vocab->token_types[0], kGgufTokenUnknown);
  EXPECT_EQ(vocab->token_types[2], kGgufTokenControl);
  EXPECT_EQ(vocab->token_types[258], kGgufTokenByte);
  EXPECT_EQ(vocab->token_types[259], kGgufTokenNormal);
  EXPECT_EQ(vocab->unk_id, 0);
  EXPECT_EQ(vocab->bos_id, 1);
  EXPECT_EQ(vocab->eos_id, 2);
  EXPECT_EQ(vocab->pad_id, -1);  // stored as uint32 0xFFFFFFFF
  EXPECT_TRUE(vocab->add_bos);   // not in the file: llama.cpp's default
  EXPECT_FALSE(vocab->add_eos);
  EXPECT_TRUE(vocab->add_space_prefix);
}

TEST(GgufVocabTest, MetadataRoundTripsWithTheTypesLlamaCppExpects) {
  absl::StatusOr<GgufFile> src = GgufFile::Open(StoriesGguf());
  ASSERT_TRUE(src.ok()) << src.status();
  GgufVocab vocab = *ReadGgufVocab(*src);
  vocab.add_space_prefix = false;
  const auto metadata = GgufVocabMetadata(vocab);
  absl::StatusOr<GgufFile> g = WriteMetadataOnly(metadata, "gguf_vocab");
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<GgufVocab> back = ReadGgufVocab(*g);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->model, vocab.model);
  EXPECT_EQ(back->tokens, vocab.tokens);
  EXPECT_EQ(back->scores, vocab.scores);
  EXPECT_EQ(back->token_types, vocab.token_types);
  EXPECT_EQ(back->bos_id, 1);
  EXPECT_EQ(back->eos_id, 2);
  EXPECT_EQ(back->unk_id, 0);
  EXPECT_EQ(back->pad_id, -1);
  EXPECT_FALSE(back->add_space_prefix);
  EXPECT_FALSE(g->Has("tokenizer.ggml.padding_token_id"));
  // Keys the source file has come out with the same type and encoding as gguf-py wrote them.
  for (const auto& [key, value] : metadata) {
    const GgufValue* original = src->FindValue(key);
    if (original == nullptr) continue;
    std::string want, got;
    ASSERT_TRUE(AppendGgufValue(key, *original, &want).ok());
    ASSERT_TRUE(AppendGgufValue(key, value, &got).ok());
    EXPECT_EQ(value.type, original->type) << key;
    EXPECT_TRUE(got == want) << key;
  }
}

TEST(GgufVocabTest, RejectsInconsistentVocabularies) {
  const GgufValue tokens = GgufValue::StringArray({"<unk>", "<s>", "a"});
  absl::StatusOr<GgufFile> scores = WriteMetadataOnly(
      {{"tokenizer.ggml.model", GgufValue::String("llama")},
       {"tokenizer.ggml.tokens", tokens},
       {"tokenizer.ggml.scores", GgufValue::Float32Array({0, 0})}},
      "gguf_vocab_scores");
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_NE(ReadGgufVocab(*scores).status().message().find("2 scores for 3 tokens"), std::string::npos);

  absl::StatusOr<GgufFile> bos = WriteMetadataOnly(
      {{"tokenizer.ggml.model", GgufValue::String("llama")},
       {"tokenizer.ggml.tokens", tokens},
       {"tokenizer.ggml.bos_token_id", GgufValue::Uint32(3)}},
      "gguf_vocab_bos");
  ASSERT_TRUE(bos.ok()) << bos.status();
  EXPECT_NE(ReadGgufVocab(*bos).status().message().find("tokenizer.ggml.bos_token_id is 3, outside the vocabulary"),
            std::string::npos);

  absl::StatusOr<GgufFile> no_tokens =
      WriteMetadataOnly({{"tokenizer.ggml.model", GgufValue::String("llama")}}, "gguf_vocab_none");
  ASSERT_TRUE(no_tokens.ok()) << no_tokens.status();
  const absl::Status missing = ReadGgufVocab(*no_tokens).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("tokenizer.ggml.tokens"), std::string::npos);
}

}  // namespace
}  // namespace transmla
