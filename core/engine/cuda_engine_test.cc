// The CUDA engine against the CPU engine on the bundled model. Runs where the build has the CUDA
// backend and a GPU; skips with the reason elsewhere (CI has nvcc but no GPU).
#include <fstream>

#include "core/engine/generate.h"
#include "core/engine/model_loader.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/test_paths.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/cuda_engine.h"
#endif

namespace transmla {
namespace {

using ::transmla::testing::BundledModelDir;

class CudaEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef TRANSMLA_HAVE_CUDA
    std::string why;
    if (!cuda::CudaDeviceAvailable(&why)) GTEST_SKIP() << "no CUDA device here (" << why << ")";
    cuda::RegisterCudaBackend();
#else
    GTEST_SKIP() << "this build has no CUDA backend (no nvcc, or TRANSMLA_WITH_CUDA=OFF)";
#endif
    EngineOptions gpu;
    gpu.device = "cuda";
    absl::StatusOr<LoadedModel> g = LoadModel(BundledModelDir(), gpu);
    absl::StatusOr<LoadedModel> c = LoadModel(BundledModelDir());
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_TRUE(c.ok()) << c.status();
    gpu_ = *std::move(g);
    cpu_ = *std::move(c);
  }

  LoadedModel gpu_, cpu_;
};

const std::vector<int32_t> kStory = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 290, 395, 317,
                                     426, 317, 306, 266, 267, 337, 335, 311, 357, 426, 338, 286, 393, 426};

TEST_F(CudaEngineTest, LogitsMatchTheCpuEngineWithinFloatRounding) {
  EXPECT_EQ(gpu_.engine->device().rfind("cuda:", 0), 0u);
  auto seq_g = gpu_.engine->NewSequence();
  auto seq_c = cpu_.engine->NewSequence();
  std::vector<std::vector<float>> lg, lc;
  ASSERT_TRUE(gpu_.engine->Forward({{seq_g.get(), kStory, true}}, &lg).ok());
  ASSERT_TRUE(cpu_.engine->Forward({{seq_c.get(), kStory, true}}, &lc).ok());
  ASSERT_EQ(lg[0].size(), lc[0].size());
  double max_diff = 0;
  for (size_t i = 0; i < lg[0].size(); ++i) max_diff = std::max<double>(max_diff, std::abs(lg[0][i] - lc[0][i]));
  EXPECT_LT(max_diff, 1e-3);
  EXPECT_EQ(gpu_.engine->KvBytesPerToken(), cpu_.engine->KvBytesPerToken());
  EXPECT_EQ(seq_g->length(), static_cast<int64_t>(kStory.size()));
}

TEST_F(CudaEngineTest, Greedy256FromBosEqualsTheCpuEngine) {
  SamplingParams params;
  params.max_tokens = 256;
  const std::vector<int32_t> bos = {1};
  absl::StatusOr<GenerationResult> g = Generate(*gpu_.engine, *gpu_.tokenizer, bos, params);
  absl::StatusOr<GenerationResult> c = Generate(*cpu_.engine, *cpu_.tokenizer, bos, params);
  ASSERT_TRUE(g.ok() && c.ok());
  EXPECT_EQ(g->token_ids, c->token_ids);
  EXPECT_EQ(g->token_ids.size(), 256u);
}

TEST_F(CudaEngineTest, BatchedEqualsOneAtATimeAndBudgetIsEnforced) {
  const std::vector<std::vector<int32_t>> prompts = {{1, 403, 407}, {1, 426, 317, 306, 266, 267}, {1, 338}};
  SamplingParams params;
  params.max_tokens = 24;
  absl::StatusOr<std::vector<GenerationResult>> batched = GenerateBatch(*gpu_.engine, *gpu_.tokenizer, prompts, params);
  ASSERT_TRUE(batched.ok());
  for (size_t i = 0; i < prompts.size(); ++i) {
    absl::StatusOr<GenerationResult> alone = Generate(*gpu_.engine, *gpu_.tokenizer, prompts[i], params);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*batched)[i].token_ids, alone->token_ids) << i;
  }
  EngineOptions small;
  small.device = "cuda";
  small.max_kv_bytes = 10 * gpu_.engine->KvBytesPerToken();
  absl::StatusOr<LoadedModel> limited = LoadModel(BundledModelDir(), small);
  ASSERT_TRUE(limited.ok());
  auto seq = limited->engine->NewSequence();
  std::vector<std::vector<float>> logits;
  EXPECT_EQ(limited->engine->Forward({{seq.get(), kStory, false}}, &logits).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(seq->length(), 0);
}

}  // namespace
}  // namespace transmla
