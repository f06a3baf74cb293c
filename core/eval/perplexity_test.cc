#include "core/eval/perplexity.h"

#include <fstream>
#include <sstream>

#include "core/engine/model_loader.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(PerplexityTest, SplitDocumentsOnBlankLines) {
  const auto docs = SplitDocuments("  one\nstill one\n\n\n two \n \t\nthree");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0], "one\nstill one");
  EXPECT_EQ(docs[1], "two");
  EXPECT_EQ(docs[2], "three");
  EXPECT_TRUE(SplitDocuments("\n\n \n").empty());
}

TEST(PerplexityTest, MatchesTransformersOnFirst200Stories) {
  const std::filesystem::path shared = transmla::testing::SharedDir();
  ASSERT_FALSE(shared.empty());
  absl::StatusOr<LoadedModel> model = LoadModel(transmla::testing::BundledModelDir());
  ASSERT_TRUE(model.ok()) << model.status();
  PerplexityOptions options;
  options.limit = 200;
  options.max_len = 512;
  absl::StatusOr<PerplexityResult> result =
      ComputePerplexity(*model->engine, *model->tokenizer, ReadFile(shared / "data/tinystories_val.txt"), options);
  ASSERT_TRUE(result.ok()) << result.status();
  // transformers fp32: 19380 tokens, mean NLL 1.43881, perplexity 4.2157.
  EXPECT_EQ(result->tokens, 19380);
  EXPECT_EQ(result->sequences, 200);
  EXPECT_NEAR(result->mean_nll, 1.43881, 5e-5);
  EXPECT_NEAR(result->ppl, 4.2157, 5e-4);
}

TEST(PerplexityTest, WindowsModeSkipAndLimit) {
  absl::StatusOr<LoadedModel> model = LoadModel(transmla::testing::BundledModelDir());
  ASSERT_TRUE(model.ok());
  const std::string text = ReadFile(transmla::testing::BundledTextFile()).substr(0, 20000);
  PerplexityOptions options;
  options.mode = PerplexityOptions::Mode::kWindows;
  options.max_len = 128;
  absl::StatusOr<std::vector<std::vector<int32_t>>> all = MakeEvalSequences(*model->tokenizer, text, options);
  ASSERT_TRUE(all.ok());
  ASSERT_GT(all->size(), 4u);
  EXPECT_EQ(all->front().front(), 1);
  options.skip = 1;
  options.limit = 2;
  absl::StatusOr<std::vector<std::vector<int32_t>>> some = MakeEvalSequences(*model->tokenizer, text, options);
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ((*some)[0], (*all)[1]);
  absl::StatusOr<PerplexityResult> result = ComputePerplexity(*model->engine, *model->tokenizer, text, options);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->tokens, 2 * 127);
  EXPECT_GT(result->ppl, 1.0);
  EXPECT_LT(result->ppl, 20.0);
}

TEST(PerplexityTest, RejectsBadOptionsAndEmptyText) {
  absl::StatusOr<LoadedModel> model = LoadModel(transmla::testing::BundledModelDir());
  ASSERT_TRUE(model.ok());
  PerplexityOptions options;
  options.max_len = 1;
  EXPECT_EQ(ComputePerplexity(*model->engine, *model->tokenizer, "a b c", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ComputePerplexity(*model->engine, *model->tokenizer, "\n\n", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace transmla
