#include "core/tokenizer/bpe_tokenizer.h"

#include <fstream>
#include <sstream>

#include "core/tokenizer/vocab.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

// A tiny SentencePiece vocabulary: <unk> <s> </s>, the 256 byte tokens, then `pieces`.
struct TinyVocab {
  SentencePieceVocab vocab;
  std::vector<float> scores;

  explicit TinyVocab(const std::vector<std::pair<std::string, float>>& pieces) {
    for (const char* control : {"<unk>", "<s>", "</s>"}) Add(control, 0.0f);
    for (int b = 0; b < 256; ++b) Add(ByteTokenPiece(static_cast<uint8_t>(b)), 0.0f);
    for (const auto& [piece, score] : pieces) Add(piece, score);
    vocab.special_ids = {0, 1, 2};
    vocab.unk_id = 0;
    vocab.bos_id = 1;
    vocab.eos_id = 2;
  }
  void Add(std::string piece, float score) {
    vocab.pieces.push_back(std::move(piece));
    scores.push_back(score);
  }
  int32_t Id(const std::string& piece) const {
    for (size_t i = 0; i < vocab.pieces.size(); ++i) {
      if (vocab.pieces[i] == piece) return static_cast<int32_t>(i);
    }
    ADD_FAILURE() << "no piece " << piece;
    return -1;
  }
  std::vector<int32_t> Ids(const std::vector<std::string>& pieces) const {
    std::vector<int32_t> ids;
    for (const std::string& piece : pieces) ids.push_back(Id(piece));
    return ids;
  }
  std::unique_ptr<Tokenizer> WithScores() const {
    auto tokenizer = MakeSentencePieceScoreTokenizer(vocab, scores);
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
    return tokenizer.ok() ? std::move(*tokenizer) : nullptr;
  }
};

const std::vector<std::pair<std::string, float>> kAbcPieces = {
    {"▁", -1}, {"a", -1}, {"b", -1}, {"c", -1}, {"ab", -2}, {"bc", -1}, {"▁a", -3}};

TEST(SentencePieceScoreTest, HighestScoringPairMergesFirst) {
  TinyVocab tiny(kAbcPieces);
  // "▁abc": "bc" (-1) beats "ab" (-2) and "▁a" (-3); then only "▁a" is left to merge.
  EXPECT_EQ(tiny.WithScores()->Encode("abc", false), tiny.Ids({"▁a", "bc"}));
}

TEST(SentencePieceScoreTest, EqualScoresMergeLeftmostFirst) {
  TinyVocab tiny({{"▁", -1}, {"a", -1}, {"b", -1}, {"c", -1}, {"ab", -1}, {"bc", -1}});
  EXPECT_EQ(tiny.WithScores()->Encode("abc", false), tiny.Ids({"▁", "ab", "c"}));
}

TEST(SentencePieceScoreTest, PairsFormedByAMergeCompeteByScore) {
  // After "bc" merges, "abc" (-2) outranks "▁a" (-3) and wins; with -5 it loses to "▁a".
  std::vector<std::pair<std::string, float>> pieces = kAbcPieces;
  pieces.push_back({"abc", -2});
  TinyVocab wins(pieces);
  EXPECT_EQ(wins.WithScores()->Encode("abc", false), wins.Ids({"▁", "abc"}));
  pieces.back().second = -5;
  TinyVocab loses(pieces);
  EXPECT_EQ(loses.WithScores()->Encode("abc", false), loses.Ids({"▁a", "bc"}));
}

TEST(SentencePieceScoreTest, UnknownCharactersFallBackToBytesAndDecodeBack) {
  TinyVocab tiny(kAbcPieces);
  auto tokenizer = tiny.WithScores();
  EXPECT_EQ(tokenizer->Encode("aé", false), tiny.Ids({"▁a", "<0xC3>", "<0xA9>"}));
  EXPECT_EQ(tokenizer->Decode(tokenizer->Encode(" abc é  c", false)), " abc é  c");
}

TEST(SentencePieceScoreTest, ControlTokensAreParsedAndSkipped) {
  TinyVocab tiny(kAbcPieces);
  auto tokenizer = tiny.WithScores();
  std::vector<int32_t> expected = {1};
  for (int32_t id : tiny.Ids({"▁a", "bc"})) expected.push_back(id);
  EXPECT_EQ(tokenizer->Encode("<s>abc", false), expected);
  EXPECT_EQ(tokenizer->Encode("abc", true), expected);
  EXPECT_EQ(tokenizer->Decode(expected, /*skip_special=*/true), "abc");
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->vocab_size(), static_cast<int64_t>(tiny.vocab.pieces.size()));
}

TEST(SentencePieceScoreTest, RejectsScoreCountMismatch) {
  TinyVocab tiny(kAbcPieces);
  tiny.scores.pop_back();
  auto tokenizer = MakeSentencePieceScoreTokenizer(tiny.vocab, tiny.scores);
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SentencePieceBpeTest, MergeRankNotScoreDecides) {
  TinyVocab tiny(kAbcPieces);
  auto ab_first = MakeSentencePieceBpeTokenizer(tiny.vocab, {{"a", "b"}, {"b", "c"}, {"▁", "a"}});
  ASSERT_TRUE(ab_first.ok()) << ab_first.status();
  EXPECT_EQ((*ab_first)->Encode("abc", false), tiny.Ids({"▁", "ab", "c"}));
  auto bc_first = MakeSentencePieceBpeTokenizer(tiny.vocab, {{"b", "c"}, {"▁", "a"}, {"a", "b"}});
  ASSERT_TRUE(bc_first.ok()) << bc_first.status();
  EXPECT_EQ((*bc_first)->Encode("abc", false), tiny.Ids({"▁a", "bc"}));
}

TEST(SentencePieceBpeTest, RejectsMergeOfUnknownPieceAndOutOfRangeIds) {
  TinyVocab tiny(kAbcPieces);
  EXPECT_EQ(MakeSentencePieceBpeTokenizer(tiny.vocab, {{"a", "x"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  tiny.vocab.bos_id = 100000;
  EXPECT_EQ(MakeSentencePieceBpeTokenizer(tiny.vocab, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SentencePieceBpeTest, BuiltFromStoriesVocabularyMatchesTheHuggingFaceVectors) {
  std::ifstream in(testing::BundledModelDir() / "tokenizer.json");
  const nlohmann::json root = nlohmann::json::parse(in);
  SentencePieceVocab vocab;
  vocab.pieces.resize(root["model"]["vocab"].size());
  for (const auto& [piece, id] : root["model"]["vocab"].items()) vocab.pieces[id.get<int32_t>()] = piece;
  vocab.special_ids = {0, 1, 2};
  vocab.unk_id = 0;
  vocab.bos_id = 1;
  vocab.eos_id = 2;
  std::vector<std::pair<std::string, std::string>> merges;
  for (const auto& merge : root["model"]["merges"]) merges.emplace_back(merge[0], merge[1]);
  auto tokenizer = MakeSentencePieceBpeTokenizer(vocab, merges);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();

  std::ifstream vectors_in(testing::SharedDir() / "tokenizers" / "tokenizer_vectors.json");
  const nlohmann::json vectors = nlohmann::json::parse(vectors_in);
  for (const auto& entry : vectors["stories260K"]) {
    const std::vector<int32_t> ids = entry["ids"];
    EXPECT_EQ((*tokenizer)->Encode(entry["text"].get<std::string>(), false), ids) << entry["text"];
    EXPECT_EQ((*tokenizer)->Decode(ids), entry["decoded"].get<std::string>());
  }
}

}  // namespace
}  // namespace transmla
