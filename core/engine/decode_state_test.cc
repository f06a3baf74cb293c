// DecodeState's streamed text decodes only a window of recent tokens at each step (the text before
// it settled): it must equal the decode of the whole prompt + generated minus the decode of the
// whole prompt, at every step, for random ids (byte tokens, partial UTF-8 characters, special
// tokens) of both real tokenizers.
#include "core/engine/decode_state.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

std::string WholePromptContinuation(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                                    const std::vector<int32_t>& generated) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), generated.begin(), generated.end());
  const std::string full = tokenizer.Decode(all, true), head = tokenizer.Decode(prompt, true);
  if (full.compare(0, head.size(), head) == 0) return full.substr(head.size());
  return tokenizer.Decode(generated, true);
}

void ExpectWholePromptText(const std::filesystem::path& path, int64_t vocab) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> any_id(0, static_cast<int32_t>(vocab - 1));
  std::uniform_int_distribution<int> prompt_length(1, 60), generated_length(1, 120);
  SamplingParams params;  // greedy: each step takes the token whose logit is 1
  params.ignore_eos = true;
  std::vector<float> logits(static_cast<size_t>(vocab), 0.0f);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<int32_t> prompt(static_cast<size_t>(prompt_length(rng)));
    for (int32_t& id : prompt) id = any_id(rng);
    params.max_tokens = generated_length(rng);
    DecodeState state(prompt, params);
    std::vector<int32_t> generated;
    while (!state.done()) {
      const int32_t next = any_id(rng);
      logits[static_cast<size_t>(next)] = 1.0f;
      state.Step(tokenizer->get(), logits);
      logits[static_cast<size_t>(next)] = 0.0f;
      generated.push_back(next);
      ASSERT_EQ(state.result().text, WholePromptContinuation(**tokenizer, prompt, generated))
          << "trial " << trial << ", " << generated.size() << " generated";
    }
  }
}

TEST(DecodeStateTest, TextEqualsTheWholePromptDecodeForLlama3) {
  ExpectWholePromptText(testing::SharedDir() / "tokenizers" / "llama3", 128256);
}

TEST(DecodeStateTest, TextEqualsTheWholePromptDecodeForStories260K) {
  ExpectWholePromptText(testing::BundledModelDir(), 512);
}

TEST(DecodeStateTest, StepEachEqualsSteppingOneByOne) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(testing::BundledModelDir());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<DecodeState> parallel, serial;
  for (int i = 0; i < 8; ++i) {
    SamplingParams params;
    params.temperature = i == 0 ? 0.0f : 1.0f;  // one greedy among the sampled
    params.top_p = i % 2 == 0 ? 0.9f : 1.0f;
    params.seed = i;
    params.max_tokens = 12;
    params.ignore_eos = true;
    parallel.emplace_back(std::vector<int32_t>{1, 400 + i}, params);
    serial.emplace_back(std::vector<int32_t>{1, 400 + i}, params);
  }
  for (int step = 0; step < 12; ++step) {
    std::vector<std::vector<float>> logits(8, std::vector<float>(512));
    for (auto& row : logits) {
      for (float& v : row) v = normal(rng);
    }
    std::vector<DecodeState*> states;
    for (DecodeState& s : parallel) states.push_back(&s);
    const std::vector<std::string> texts = StepEach(states, tokenizer->get(), logits);
    for (size_t i = 0; i < serial.size(); ++i) {
      EXPECT_EQ(texts[i], serial[i].Step(tokenizer->get(), logits[i])) << "sequence " << i << ", step " << step;
      EXPECT_EQ(parallel[i].result().token_ids, serial[i].result().token_ids) << "sequence " << i;
    }
  }
}

}  // namespace
}  // namespace transmla
