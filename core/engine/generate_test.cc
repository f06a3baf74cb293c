#include "core/engine/generate.h"

#include <fstream>

#include "core/engine/model_loader.h"
#include "nlohmann/json.hpp"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

class GenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LoadedModel> model = LoadModel(transmla::testing::BundledModelDir());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(model).value();
  }
  std::vector<int32_t> Prompt(const std::string& text) { return model_.tokenizer->Encode(text, /*add_bos=*/true); }

  LoadedModel model_;
};

TEST_F(GenerateTest, GreedyFromBosEqualsTransformersFor256Tokens) {
  std::ifstream in(transmla::testing::SourceDir() / "tests/data/stories260K_transformers_greedy256.json");
  const nlohmann::json expected = nlohmann::json::parse(in);
  SamplingParams params;
  params.max_tokens = 256;
  params.ignore_eos = true;  // transformers' reference ran with min_new_tokens = 256
  absl::StatusOr<GenerationResult> result = Generate(*model_.engine, *model_.tokenizer, {1}, params);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->token_ids, expected["token_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(result->text.rfind("Once upon a time, there was a little girl named Lily", 0), 0u) << result->text;
  EXPECT_EQ(result->finish_reason, "length");
}

TEST_F(GenerateTest, BatchedGreedyEqualsOneAtATime) {
  SamplingParams params;
  params.max_tokens = 40;
  const std::vector<std::vector<int32_t>> prompts = {Prompt("Once upon a time"), Prompt("Tim had a big red ball."),
                                                     Prompt("The sun")};
  absl::StatusOr<std::vector<GenerationResult>> batched = GenerateBatch(*model_.engine, *model_.tokenizer, prompts, params);
  ASSERT_TRUE(batched.ok()) << batched.status();
  for (size_t i = 0; i < prompts.size(); ++i) {
    absl::StatusOr<GenerationResult> alone = Generate(*model_.engine, *model_.tokenizer, prompts[i], params);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*batched)[i].token_ids, alone->token_ids) << i;
  }
}

TEST_F(GenerateTest, SeededSamplingIsReproducibleAndDiffersAcrossSeeds) {
  SamplingParams params;
  params.max_tokens = 48;
  params.temperature = 1.0f;
  params.top_k = 40;
  params.top_p = 0.9f;
  params.seed = 7;
  auto run = [&](uint64_t seed) {
    params.seed = seed;
    return Generate(*model_.engine, *model_.tokenizer, Prompt("Once upon a time"), params)->token_ids;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST_F(GenerateTest, StopStringCutsTextAndStreamsNothingPastIt) {
  SamplingParams params;
  params.max_tokens = 100;
  params.stop = {"Lily"};
  std::string streamed;
  absl::StatusOr<GenerationResult> result =
      Generate(*model_.engine, *model_.tokenizer, {1}, params, [&](int32_t, const std::string& delta) {
        streamed += delta;
        return true;
      });
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->finish_reason, "stop");
  EXPECT_EQ(result->text, "Once upon a time, there was a little girl named ");
  EXPECT_EQ(streamed, result->text);
}

TEST_F(GenerateTest, StopTokenIdEndsGenerationWithoutEmittingIt) {
  SamplingParams params;
  params.max_tokens = 100;
  params.stop_token_ids = {317};  // "▁Lily"
  absl::StatusOr<GenerationResult> result = Generate(*model_.engine, *model_.tokenizer, {1}, params);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->finish_reason, "stop");
  EXPECT_TRUE(std::find(result->token_ids.begin(), result->token_ids.end(), 317) == result->token_ids.end());
}

TEST_F(GenerateTest, RepetitionPenaltyChangesGreedyOutput) {
  SamplingParams params;
  params.max_tokens = 64;
  const auto plain = Generate(*model_.engine, *model_.tokenizer, {1}, params)->token_ids;
  params.repetition_penalty = 1.5f;
  const auto penalised = Generate(*model_.engine, *model_.tokenizer, {1}, params)->token_ids;
  EXPECT_NE(plain, penalised);
}

TEST_F(GenerateTest, CallbackCanCancel) {
  SamplingParams params;
  params.max_tokens = 100;
  int calls = 0;
  absl::StatusOr<GenerationResult> result =
      Generate(*model_.engine, *model_.tokenizer, {1}, params, [&](int32_t, const std::string&) { return ++calls < 5; });
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->finish_reason, "cancelled");
  EXPECT_EQ(result->token_ids.size(), 5u);
}

TEST_F(GenerateTest, InvalidParamsAreRejectedNamingTheField) {
  SamplingParams params;
  params.top_p = 1.5f;
  absl::StatusOr<GenerationResult> result = Generate(*model_.engine, *model_.tokenizer, {1}, params);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("top_p"), std::string::npos);
  params = {};
  params.max_tokens = -1;
  EXPECT_NE(Generate(*model_.engine, *model_.tokenizer, {1}, params).status().message().find("max_tokens"),
            std::string::npos);
  EXPECT_EQ(Generate(*model_.engine, *model_.tokenizer, {}, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace transmla
