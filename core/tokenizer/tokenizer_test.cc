#include "core/tokenizer/tokenizer.h"

#include <fstream>
#include <functional>
#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

using ::nlohmann::json;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Loading Llama-3 (128K pieces, 280K merges) once keeps the suite fast.
const Tokenizer& Llama3() {
  static const Tokenizer* tokenizer = [] {
    auto loaded = LoadTokenizer(testing::SharedDir() / "tokenizers" / "llama3");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  if (tokenizer == nullptr) std::abort();
  return *tokenizer;
}

const Tokenizer& Stories() {
  static const Tokenizer* tokenizer = [] {
    auto loaded = LoadTokenizer(testing::BundledModelDir() / "tokenizer.json");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return loaded.ok() ? loaded->release() : nullptr;
  }();
  if (tokenizer == nullptr) std::abort();
  return *tokenizer;
}

void ExpectMatchesVectors(const Tokenizer& tokenizer, const std::string& name) {
  const json vectors = json::parse(ReadFile(testing::SharedDir() / "tokenizers" / "tokenizer_vectors.json"));
  ASSERT_TRUE(vectors.contains(name));
  ASSERT_GT(vectors[name].size(), 0u);
  for (const json& entry : vectors[name]) {
    const std::string text = entry["text"];
    const std::vector<int32_t> expected = entry["ids"];
    const std::vector<int32_t> ids = tokenizer.Encode(text, /*add_bos=*/false);
    EXPECT_EQ(ids, expected) << "encoding '" << text << "'";
    EXPECT_EQ(tokenizer.Decode(expected), entry["decoded"].get<std::string>()) << "decoding '" << text << "'";
  }
}

// The first `count` stories of the TinyStories validation text, split on blank lines, trimmed.
std::vector<std::string> FirstStories(size_t count) {
  const std::string text = ReadFile(testing::SharedDir() / "data" / "tinystories_val.txt");
  std::vector<std::string> stories;
  size_t pos = 0;
  while (pos < text.size() && stories.size() < count) {
    size_t end = text.find("\n\n", pos);
    if (end == std::string::npos) end = text.size();
    std::string story = text.substr(pos, end - pos);
    const size_t first = story.find_first_not_of(" \t\r\n");
    const size_t last = story.find_last_not_of(" \t\r\n");
    if (first != std::string::npos) stories.push_back(story.substr(first, last - first + 1));
    pos = end + 2;
  }
  return stories;
}

TEST(TokenizerTest, Llama3MatchesHuggingFaceVectors) { ExpectMatchesVectors(Llama3(), "llama3"); }

TEST(TokenizerTest, Stories260KMatchesHuggingFaceVectors) { ExpectMatchesVectors(Stories(), "stories260K"); }

TEST(TokenizerTest, BosAndEosComeFromTokenizerConfig) {
  EXPECT_EQ(Llama3().bos_id(), 128000);
  EXPECT_EQ(Llama3().eos_id(), 128001);
  EXPECT_EQ(Stories().bos_id(), 1);
  EXPECT_EQ(Stories().eos_id(), 2);
  EXPECT_EQ(Llama3().vocab_size(), 128256);
  EXPECT_EQ(Stories().vocab_size(), 512);
}

TEST(TokenizerTest, AddBosPrependsBos) {
  EXPECT_EQ(Llama3().Encode("Hello world", /*add_bos=*/true), (std::vector<int32_t>{128000, 9906, 1917}));
  EXPECT_EQ(Stories().Encode("a", /*add_bos=*/true), (std::vector<int32_t>{1, 261}));
  EXPECT_EQ(Stories().Encode("", /*add_bos=*/true), (std::vector<int32_t>{1}));
}

TEST(TokenizerTest, SpecialTokensInTextAreOneIdOnlyWhenParsingSpecial) {
  // "hi" is a piece of its own in Llama-3 (id 6151).
  EXPECT_EQ(Llama3().Encode("<|begin_of_text|>hi", false), (std::vector<int32_t>{128000, 6151}));
  const std::vector<int32_t> literal = Llama3().Encode("<|begin_of_text|>hi", false, /*parse_special=*/false);
  ASSERT_FALSE(literal.empty());
  EXPECT_NE(literal[0], 128000);
  EXPECT_EQ(Llama3().Decode(literal), "<|begin_of_text|>hi");
}

TEST(TokenizerTest, SentencePiecePrefixesEachSegmentAfterASpecialToken) {
  // HF normalizes each stretch between added tokens on its own, so "Hello" after <s> gets its
  // own "▁" exactly as it does at the start of the text.
  std::vector<int32_t> expected = {1};
  for (int32_t id : Stories().Encode("Hello", false)) expected.push_back(id);
  EXPECT_EQ(Stories().Encode("<s>Hello", false), expected);
  EXPECT_EQ(Stories().Encode("<s>", false), (std::vector<int32_t>{1}));
}

TEST(TokenizerTest, StoriesTokenizesOnceUponATimeAsWholeWords) {
  // "▁Once" (403), "▁upon" (407), "▁a" (261) and "▁time" (378) are reachable through the merge list.
  EXPECT_EQ(Stories().Encode("Once upon a time", false), (std::vector<int32_t>{403, 407, 261, 378}));
}

TEST(TokenizerTest, StoriesRoundTripsTheFirst300TinyStories) {
  const std::vector<std::string> stories = FirstStories(300);
  ASSERT_EQ(stories.size(), 300u);
  for (const std::string& story : stories) {
    const std::vector<int32_t> ids = Stories().Encode(story, false);
    EXPECT_EQ(Stories().Decode(ids), story);
    for (int32_t id : ids) ASSERT_NE(id, 0) << "unk in: " << story;  // byte fallback covers everything
  }
}

TEST(TokenizerTest, Llama3RoundTripsTheFirst300TinyStories) {
  for (const std::string& story : FirstStories(300)) {
    EXPECT_EQ(Llama3().Decode(Llama3().Encode(story, false)), story);
  }
}

TEST(TokenizerTest, DecodeSkipSpecialDropsSpecialTokens) {
  EXPECT_EQ(Llama3().Decode({128000, 9906, 1917}, /*skip_special=*/true), "Hello world");
  EXPECT_EQ(Llama3().Decode({128000, 9906, 1917}, /*skip_special=*/false), "<|begin_of_text|>Hello world");
  EXPECT_EQ(Stories().Decode({1, 403, 407, 2}, /*skip_special=*/true), "Once upon");
  // HF runs special tokens through the decoder too: "<s>" keeps the space "▁Once" brings.
  EXPECT_EQ(Stories().Decode({1, 403, 407}, /*skip_special=*/false), "<s> Once upon");
}

TEST(TokenizerTest, InvalidUtf8FromByteFallbackDecodesToOneReplacementPerByteToken) {
  const std::string kReplacement = "\xEF\xBF\xBD";
  // <0xC3> <0xA9> is "é"; <0xC3> alone is not UTF-8, and neither is <0xFF>.
  const int32_t c3 = *Stories().TokenToId("<0xC3>");
  const int32_t a9 = *Stories().TokenToId("<0xA9>");
  const int32_t ff = *Stories().TokenToId("<0xFF>");
  EXPECT_EQ(Stories().Decode({c3, a9}), "é");
  EXPECT_EQ(Stories().Decode({c3, ff, 261}), kReplacement + kReplacement + " a");
  // Invalid input bytes are byte-fallback encoded and come back as replacement characters.
  EXPECT_EQ(Stories().Encode("\xFF", false), (std::vector<int32_t>{410, ff}));
}

TEST(TokenizerTest, ByteLevelDecodesTruncatedUtf8AsOneReplacementPerMaximalSubpart) {
  // 9468 is the byte pair F0 9F (the start of many emoji); 239 adds 91. F0 9F 91 is a single
  // maximal ill-formed subpart, so from_utf8_lossy gives one U+FFFD.
  EXPECT_EQ(Llama3().Decode({9468}), "\xEF\xBF\xBD");
  EXPECT_EQ(Llama3().Decode({9468, 239}), "\xEF\xBF\xBD");
  EXPECT_EQ(Llama3().Decode({9468, 239, 235}), "\xF0\x9F\x91\x8D");
}

TEST(TokenizerTest, TokenToIdFindsPiecesAndAddedTokens) {
  EXPECT_EQ(Llama3().TokenToId("<|end_of_text|>"), 128001);
  EXPECT_EQ(Llama3().TokenToId("Hello"), 9906);
  EXPECT_EQ(Llama3().TokenToId("no such token at all"), std::nullopt);
  EXPECT_EQ(Stories().TokenToId("▁Once"), 403);
}

class TokenizerFileTest : public ::testing::Test {
 protected:
  // Writes the stories260K tokenizer.json with `edit` applied into a fresh directory.
  std::filesystem::path WriteEdited(const std::function<void(json*)>& edit) {
    json root = json::parse(ReadFile(testing::BundledModelDir() / "tokenizer.json"));
    edit(&root);
    const std::filesystem::path dir = testing::MakeTempDir("tokenizer");
    WriteFile(dir / "tokenizer.json", root.dump());
    return dir;
  }
};

TEST_F(TokenizerFileTest, RejectsUnsupportedModelTypesByName) {
  for (const char* type : {"WordPiece", "Unigram"}) {
    const auto dir = WriteEdited([type](json* root) { (*root)["model"]["type"] = type; });
    auto loaded = LoadTokenizer(dir);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(loaded.status().message().find(type), std::string_view::npos) << loaded.status();
  }
}

TEST_F(TokenizerFileTest, RejectsUnsupportedNormalizersAndPreTokenizersByName) {
  auto with_nfc = LoadTokenizer(WriteEdited([](json* root) { (*root)["normalizer"] = {{"type", "NFC"}}; }));
  ASSERT_FALSE(with_nfc.ok());
  EXPECT_NE(with_nfc.status().message().find("NFC"), std::string_view::npos);
  auto with_digits = LoadTokenizer(
      WriteEdited([](json* root) { (*root)["pre_tokenizer"] = {{"type", "Digits"}, {"individual_digits", true}}; }));
  ASSERT_FALSE(with_digits.ok());
  EXPECT_NE(with_digits.status().message().find("Digits"), std::string_view::npos);
}

TEST_F(TokenizerFileTest, RejectsMalformedJson) {
  const std::filesystem::path dir = testing::MakeTempDir("tokenizer");
  WriteFile(dir / "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": ");
  auto loaded = LoadTokenizer(dir);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("tokenizer.json"), std::string_view::npos);
}

TEST_F(TokenizerFileTest, RejectsWrongFieldTypesAndMergesOutsideTheVocabulary) {
  auto bad_vocab = LoadTokenizer(WriteEdited([](json* root) { (*root)["model"]["vocab"] = "not a map"; }));
  EXPECT_EQ(bad_vocab.status().code(), absl::StatusCode::kInvalidArgument);
  auto bad_merge = LoadTokenizer(
      WriteEdited([](json* root) { (*root)["model"]["merges"].push_back(json::array({"zzz", "qqq"})); }));
  EXPECT_EQ(bad_merge.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_merge.status().message().find("zzz"), std::string_view::npos);
}

TEST_F(TokenizerFileTest, MissingFileIsNotFound) {
  auto loaded = LoadTokenizer(testing::MakeTempDir("tokenizer"));
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TokenizerFileTest, MergesWrittenAsStringsWorkLikeArrays) {
  const auto dir = WriteEdited([](json* root) {
    for (json& merge : (*root)["model"]["merges"]) merge = merge[0].get<std::string>() + " " + merge[1].get<std::string>();
  });
  auto loaded = LoadTokenizer(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Encode("Once upon a time", false), (std::vector<int32_t>{403, 407, 261, 378}));
  // Without tokenizer_config.json the BOS comes from the post-processor template.
  EXPECT_EQ((*loaded)->bos_id(), 1);
  EXPECT_EQ((*loaded)->eos_id(), 2);
}

TEST_F(TokenizerFileTest, OlderMetaspacePreTokenizerMatchesPrependNormalizer) {
  // Llama-2 files written by older `tokenizers` spell the same pipeline as a Metaspace
  // pre-tokenizer and decoder (prepend_scheme "first", no split).
  const auto dir = WriteEdited([](json* root) {
    (*root)["normalizer"] = nullptr;
    (*root)["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}};
  });
  auto loaded = LoadTokenizer(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (const char* text : {"Hello world", "Once upon a time", "a\nb"}) {
    EXPECT_EQ((*loaded)->Encode(text, false), Stories().Encode(text, false)) << text;
  }
  // The one difference: Metaspace adds no "▁" when the text already starts with a space.
  EXPECT_EQ((*loaded)->Encode(" Hello  world ", false), (std::vector<int32_t>{346, 306, 414, 410, 263, 304, 341, 410}));
}

}  // namespace
}  // namespace transmla
