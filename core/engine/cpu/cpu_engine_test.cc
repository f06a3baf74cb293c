#include "core/engine/cpu/cpu_engine.h"

#include <omp.h>

#include <cmath>
#include <thread>
#include <utility>

#include "core/engine/greedy_token.h"
#include "core/engine/model_loader.h"
#include "core/io/tensor_store.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

using ::transmla::testing::BundledModelDir;
using ::transmla::testing::SharedDir;

LoadedModel LoadBundled(const EngineOptions& options = {}) {
  absl::StatusOr<LoadedModel> model = LoadModel(BundledModelDir(), options);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

std::vector<float> FullForward(Engine& engine, const std::vector<int32_t>& ids) {
  std::unique_ptr<Sequence> seq = engine.NewSequence();
  std::vector<std::vector<float>> logits;
  EXPECT_TRUE(engine.Forward({{seq.get(), ids, true}}, &logits).ok());
  return logits.at(0);
}

// Different row counts take different GEMM kernels (another summation order), so batched and
// incremental logits agree to float rounding (|logits| ~ 10-20, float eps ~ 1e-7 relative), not bit for bit.
constexpr float kKernelOrderTolerance = 5e-5f;

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

TEST(CpuEngineTest, MatchesTransformersReferenceLogits) {
  const std::filesystem::path shared = SharedDir();
  ASSERT_FALSE(shared.empty());
  absl::StatusOr<TensorStore> reference =
      TensorStore::OpenSafetensors(shared / "models/stories260K/reference/reference_logits.safetensors");
  ASSERT_TRUE(reference.ok()) << reference.status();
  LoadedModel model = LoadBundled();
  for (int i = 0; i < 4; ++i) {
    const TensorView ids_view = *reference->Get("ids_" + std::to_string(i));
    const TensorView logits_view = *reference->Get("logits_" + std::to_string(i));
    ASSERT_EQ(ids_view.dtype, DType::kI64);
    std::vector<int32_t> ids(ids_view.NumElements());
    for (size_t t = 0; t < ids.size(); ++t) {
      int64_t v;
      std::memcpy(&v, ids_view.data + 8 * t, 8);
      ids[t] = static_cast<int32_t>(v);
    }
    std::vector<float> expected;
    ASSERT_TRUE(ConvertToFloat(logits_view, &expected).ok());
    // Same float32 arithmetic as transformers up to summation order: 1e-4 absolute.
    EXPECT_LT(MaxAbsDiff(FullForward(*model.engine, ids), expected), 1e-4f) << "sequence " << i;
  }
}

TEST(CpuEngineTest, IncrementalDecodingMatchesFullForward) {
  LoadedModel model = LoadBundled();
  const std::vector<int32_t> ids = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 290, 395, 317, 426};
  const std::vector<float> full = FullForward(*model.engine, ids);
  const int64_t vocab = model.engine->config().vocab_size;
  std::unique_ptr<Sequence> seq = model.engine->NewSequence();
  std::vector<std::vector<float>> logits;
  ASSERT_TRUE(model.engine->Forward({{seq.get(), absl::MakeConstSpan(ids).first(5), true}}, &logits).ok());
  std::vector<float> stitched = logits[0];
  for (size_t t = 5; t < ids.size(); ++t) {
    ASSERT_TRUE(model.engine->Forward({{seq.get(), absl::MakeConstSpan(ids).subspan(t, 1), false}}, &logits).ok());
    stitched.insert(stitched.end(), logits[0].begin(), logits[0].end());
  }
  ASSERT_EQ(stitched.size(), ids.size() * vocab);
  EXPECT_LT(MaxAbsDiff(stitched, full), kKernelOrderTolerance);
  EXPECT_EQ(seq->length(), static_cast<int64_t>(ids.size()));
}

TEST(CpuEngineTest, BatchOfDifferentLengthsMatchesOneAtATime) {
  LoadedModel model = LoadBundled();
  const std::vector<std::vector<int32_t>> prompts = {{1, 403, 407, 261, 378}, {1, 291}, {1, 317, 286, 261, 376, 298, 290, 395}};
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<ForwardStep> steps;
  for (const auto& p : prompts) {
    seqs.push_back(model.engine->NewSequence());
    steps.push_back({seqs.back().get(), p, true});
  }
  std::vector<std::vector<float>> batched;
  ASSERT_TRUE(model.engine->Forward(steps, &batched).ok());
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_LT(MaxAbsDiff(batched[i], FullForward(*model.engine, prompts[i])), kKernelOrderTolerance) << i;
  }
}

TEST(CpuEngineTest, ReportsKvBytesAndParameters) {
  LoadedModel model = LoadBundled();
  // 5 layers x (K + V) x 4 kv heads x 8 dims x 4 bytes.
  EXPECT_EQ(model.engine->KvBytesPerToken(), 5 * 2 * 4 * 8 * 4);
  // 512x64 embedding (tied) + 5 x (attn 64*64*2 + 64*32*2 + norms 128 + mlp 3*64*172) + final norm.
  EXPECT_EQ(model.engine->NumParameters(), 512 * 64 + 5 * (2 * 64 * 64 + 2 * 32 * 64 + 128 + 3 * 64 * 172) + 64);
  std::unique_ptr<Sequence> seq = model.engine->NewSequence();
  std::vector<std::vector<float>> logits;
  ASSERT_TRUE(model.engine->Forward({{seq.get(), std::vector<int32_t>{1, 2, 3}, false}}, &logits).ok());
  EXPECT_EQ(seq->kv_bytes(), 3 * model.engine->KvBytesPerToken());
}

TEST(CpuEngineTest, ThreadCountHoldsInTheThreadThatRunsTheSteps) {
  // A server loads on one thread and steps on another; OpenMP's count is per thread.
  EngineOptions options;
  options.threads = 1;
  absl::StatusOr<LoadedModel> model = LoadModel(BundledModelDir(), options);
  ASSERT_TRUE(model.ok());
  int seen = 0;
  std::thread stepper([&] {
    std::unique_ptr<Sequence> seq = model->engine->NewSequence();
    std::vector<std::vector<float>> logits;
    EXPECT_TRUE(model->engine->Forward({{seq.get(), std::vector<int32_t>{1, 2, 3}, false}}, &logits).ok());
    seen = omp_get_max_threads();
  });
  stepper.join();
  EXPECT_EQ(seen, 1);
}

TEST(CpuEngineTest, LoadModelNamesBadEngineOptions) {
  const std::pair<EngineOptions, std::string> cases[] = {
      {{.device = "tpu"}, "device"},
      {{.threads = -1}, "threads"},
      {{.max_kv_bytes = -5}, "max_kv_bytes"},
      {{.gpu_dtype = "fp8"}, "gpu dtype"},
  };
  for (const auto& [options, field] : cases) {
    const absl::Status s = LoadModel(BundledModelDir(), options).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_NE(s.message().find(field), std::string::npos) << s;
  }
}

TEST(CpuEngineTest, KvBudgetExhaustedLeavesSequenceUnchanged) {
  EngineOptions options;
  options.max_kv_bytes = 10 * 5 * 2 * 4 * 8 * 4;  // room for 10 tokens
  LoadedModel model = LoadBundled(options);
  std::unique_ptr<Sequence> seq = model.engine->NewSequence();
  std::vector<std::vector<float>> logits;
  ASSERT_TRUE(model.engine->Forward({{seq.get(), std::vector<int32_t>(8, 5), false}}, &logits).ok());
  const absl::Status status = model.engine->Forward({{seq.get(), std::vector<int32_t>(3, 5), false}}, &logits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_EQ(seq->length(), 8);
  EXPECT_EQ(seq->kv_bytes(), 8 * model.engine->KvBytesPerToken());
  seq.reset();  // frees its cache: a new sequence gets the whole budget
  std::unique_ptr<Sequence> other = model.engine->NewSequence();
  EXPECT_TRUE(model.engine->Forward({{other.get(), std::vector<int32_t>(10, 5), false}}, &logits).ok());
}

TEST(CpuEngineTest, RejectsTokenIdsOutsideVocabularyAndEmptySteps) {
  LoadedModel model = LoadBundled();
  std::unique_ptr<Sequence> seq = model.engine->NewSequence();
  std::vector<std::vector<float>> logits;
  EXPECT_EQ(model.engine->Forward({{seq.get(), std::vector<int32_t>{1, 512}, false}}, &logits).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model.engine->Forward({{seq.get(), {}, false}}, &logits).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(seq->length(), 0);
}

TEST(CpuEngineTest, GreedyStepsGiveTheFirstMaximumOfTheirLogits) {
  LoadedModel model = LoadBundled();
  const std::vector<std::vector<int32_t>> prompts = {{1, 403, 407, 261}, {1, 291}, {1, 317, 286}};
  std::vector<std::unique_ptr<Sequence>> with_logits, greedy;
  std::vector<int32_t> tokens(prompts.size(), -1);
  std::vector<ForwardStep> logit_steps, mixed_steps;
  for (size_t i = 0; i < prompts.size(); ++i) {
    with_logits.push_back(model.engine->NewSequence());
    greedy.push_back(model.engine->NewSequence());
    logit_steps.push_back({with_logits.back().get(), prompts[i], false});
    // The middle sequence keeps its logits: greedy and sampled sequences share a batch.
    mixed_steps.push_back({greedy.back().get(), prompts[i], false, i == 1 ? nullptr : &tokens[i]});
  }
  std::vector<std::vector<float>> expected, mixed;
  ASSERT_TRUE(model.engine->Forward(logit_steps, &expected).ok());
  ASSERT_TRUE(model.engine->Forward(mixed_steps, &mixed).ok());
  EXPECT_EQ(tokens[0], FirstMaximum(expected[0]));
  EXPECT_EQ(tokens[2], FirstMaximum(expected[2]));
  EXPECT_EQ(tokens[1], -1);
  EXPECT_TRUE(mixed[0].empty());
  EXPECT_TRUE(mixed[2].empty());
  EXPECT_LT(MaxAbsDiff(mixed[1], expected[1]), kKernelOrderTolerance);
  EXPECT_EQ(greedy[0]->length(), 4);

  int32_t token = -1;
  EXPECT_EQ(model.engine->Forward({{greedy[1].get(), prompts[1], true, &token}}, &mixed).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(greedy[1]->length(), 2);
}

TEST(CpuEngineTest, RejectsPositionsBeyondContext) {
  LoadedModel model = LoadBundled();
  std::unique_ptr<Sequence> seq = model.engine->NewSequence();
  std::vector<std::vector<float>> logits;
  EXPECT_EQ(model.engine->Forward({{seq.get(), std::vector<int32_t>(513, 5), false}}, &logits).code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace transmla
