// The CUDA engine against the CPU engine on the bundled model. Runs where the build has the CUDA
// backend and a GPU; skips with the reason elsewhere (CI has nvcc but no GPU).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "Eigen/Eigenvalues"
#include "core/convert/converter.h"
#include "core/convert/value_refit.h"
#include "core/engine/cpu/cpu_block_runner.h"
#include "core/engine/cpu/weight_loader.h"
#include "core/engine/generate.h"
#include "core/engine/greedy_token.h"
#include "core/engine/gpu_backend.h"
#include "core/engine/model_loader.h"
#include "core/io/tensor_store.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/test_paths.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/cuda_engine.h"
#endif

namespace transmla {
namespace {

using ::transmla::testing::BundledModelDir;

// Why the CUDA engine cannot run here ("" when it can; the backend is then registered).
std::string CudaUnavailable() {
#ifdef TRANSMLA_HAVE_CUDA
  std::string why;
  if (!cuda::CudaDeviceAvailable(&why)) return "no CUDA device here (" + why + ")";
  cuda::RegisterCudaBackend();
  return "";
#else
  return "this build has no CUDA backend (no nvcc, or TRANSMLA_WITH_CUDA=OFF)";
#endif
}

class CudaEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = CudaUnavailable(); !why.empty()) GTEST_SKIP() << why;
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

// The largest absolute difference between two steps' logits.
double MaxDifference(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  double max_diff = 0;
  for (size_t s = 0; s < a.size(); ++s) {
    for (size_t i = 0; i < a[s].size(); ++i) max_diff = std::max<double>(max_diff, std::abs(a[s][i] - b[s][i]));
  }
  return max_diff;
}

TEST_F(CudaEngineTest, LogitsMatchTheCpuEngineWithinFloatRounding) {
  EXPECT_EQ(gpu_.engine->device().rfind("cuda:", 0), 0u);
  auto seq_g = gpu_.engine->NewSequence();
  auto seq_c = cpu_.engine->NewSequence();
  std::vector<std::vector<float>> lg, lc;
  ASSERT_TRUE(gpu_.engine->Forward({{seq_g.get(), kStory, true}}, &lg).ok());
  ASSERT_TRUE(cpu_.engine->Forward({{seq_c.get(), kStory, true}}, &lc).ok());
  ASSERT_EQ(lg[0].size(), lc[0].size());
  EXPECT_LT(MaxDifference(lg, lc), 1e-3);
  EXPECT_EQ(gpu_.engine->KvBytesPerToken(), cpu_.engine->KvBytesPerToken());
  EXPECT_EQ(seq_g->length(), static_cast<int64_t>(kStory.size()));
}

TEST_F(CudaEngineTest, MlaConversionsMatchTheCpuEngineInF32) {
  // deepseek (latent + partial RoPE, interleaved) and exact (qk_nope_head_dim 0, longrope factors).
  for (const convert::Mode mode : {convert::Mode::kDeepseek, convert::Mode::kExact}) {
    const std::filesystem::path out = ::transmla::testing::MakeTempDir("cuda_mla") / "mla";
    convert::ConversionOptions options;
    options.mode = mode;
    ASSERT_TRUE(convert::ConvertModel(BundledModelDir(), out, options).ok());
    EngineOptions gpu;
    gpu.device = "cuda";
    absl::StatusOr<LoadedModel> g = LoadModel(out, gpu);
    absl::StatusOr<LoadedModel> c = LoadModel(out);
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(g->engine->KvBytesPerToken(), c->engine->KvBytesPerToken());
    // Each step on both engines; every position's logits compared.
    std::vector<std::unique_ptr<Sequence>> seqs_g, seqs_c;
    for (int i = 0; i < 2; ++i) {
      seqs_g.push_back(g->engine->NewSequence());
      seqs_c.push_back(c->engine->NewSequence());
    }
    auto both = [&](const std::vector<std::pair<int, std::vector<int32_t>>>& step, const std::string& what) {
      std::vector<ForwardStep> sg, sc;
      for (const auto& [seq, tokens] : step) {
        sg.push_back({seqs_g[static_cast<size_t>(seq)].get(), tokens, true});
        sc.push_back({seqs_c[static_cast<size_t>(seq)].get(), tokens, true});
      }
      std::vector<std::vector<float>> lg, lc;
      ASSERT_TRUE(g->engine->Forward(sg, &lg).ok());
      ASSERT_TRUE(c->engine->Forward(sc, &lc).ok());
      EXPECT_LT(MaxDifference(lg, lc), 1e-3) << convert::ModeName(mode) << ": " << what;
    };
    std::vector<int32_t> long_text;
    while (long_text.size() < 200) long_text.insert(long_text.end(), kStory.begin() + 1, kStory.end());
    const std::vector<int32_t> first(long_text.begin(), long_text.begin() + 100), more(long_text.begin() + 100, long_text.end());
    // Short prompts take the absorbed path; prompts of 64 tokens and more expand the latent per head.
    both({{0, std::vector<int32_t>(kStory.begin(), kStory.begin() + 10)}}, "short prompt");
    both({{0, std::vector<int32_t>(kStory.begin() + 10, kStory.end())}}, "short prompt on the cache");
    both({{1, first}}, "long prompt");
    both({{1, more}}, "long prompt on the cache");
    both({{0, first}, {1, {426}}}, "a long prompt and a decode step in one batch");
  }
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

// Greedy steps (ForwardStep::greedy_token, picked on the device) against the first maximum of the
// logits of a twin batch: the same prompts in fresh sequences, the same row counts and so the same
// kernels, each step's tokens fed back to both. The middle sequence keeps its logits in the greedy
// batch (greedy and sampled sequences share steps in the server), which must equal its twin's.
void ExpectDeviceGreedyIsTheFirstMaximum(Engine& engine, const std::vector<std::vector<int32_t>>& prompts,
                                         const std::string& label) {
  std::vector<std::unique_ptr<Sequence>> twins, greedy;
  std::vector<std::vector<int32_t>> inputs = prompts;
  std::vector<int32_t> picked(prompts.size(), -1);
  for (size_t i = 0; i < prompts.size(); ++i) {
    twins.push_back(engine.NewSequence());
    greedy.push_back(engine.NewSequence());
  }
  for (int step = 0; step < 8; ++step) {
    std::vector<ForwardStep> twin_steps, greedy_steps;
    for (size_t i = 0; i < prompts.size(); ++i) {
      twin_steps.push_back({twins[i].get(), inputs[i], false});
      greedy_steps.push_back({greedy[i].get(), inputs[i], false, i == 1 ? nullptr : &picked[i]});
    }
    std::vector<std::vector<float>> expected, got;
    ASSERT_TRUE(engine.Forward(twin_steps, &expected).ok());
    ASSERT_TRUE(engine.Forward(greedy_steps, &got).ok());
    for (size_t i = 0; i < prompts.size(); ++i) {
      const int32_t first_max = FirstMaximum(expected[i]);
      if (i == 1) {
        EXPECT_EQ(got[i], expected[i]) << label << " step " << step;
      } else {
        EXPECT_TRUE(got[i].empty()) << label;
        EXPECT_EQ(picked[i], first_max) << label << " sequence " << i << " step " << step;
      }
      inputs[i] = {first_max};
    }
  }
}

TEST_F(CudaEngineTest, GreedyTokensOnTheDeviceAreTheFirstMaximum) {
  ExpectDeviceGreedyIsTheFirstMaximum(*gpu_.engine, {{1, 403, 407}, {1, 426, 317, 306, 266, 267}, {1, 338}},
                                      "stories260K f32");
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

// 16-bit weights and caches (BF16 or FP16) on synthetic BF16 checkpoints, against the CPU engine
// in FP32 on the same weights: a ~1B-parameter Llama and its deepseek conversion, and a small Qwen2
// (q/k/v biases) and its conversion (the query-bias and kv_a-bias paths). Converted models do not
// fit FP16 (see StockNormFoldedMlaRefusesF16SayingWhy). scripts/gpu/check_cuda.sh makes the
// folders ({gqa,mla,qwen,qwen-mla}) and points TRANSMLA_CUDA_MODELS at them; elsewhere this skips.
struct SixteenBitCase {
  const char* model;
  const char* dtype;
};

void PrintTo(const SixteenBitCase& c, std::ostream* os) { *os << c.model << " " << c.dtype; }

class Cuda16BitTest : public ::testing::TestWithParam<SixteenBitCase> {
 protected:
  void SetUp() override {
    if (const std::string why = CudaUnavailable(); !why.empty()) GTEST_SKIP() << why;
    const char* root = std::getenv("TRANSMLA_CUDA_MODELS");
    if (root == nullptr) GTEST_SKIP() << "TRANSMLA_CUDA_MODELS is not set (scripts/gpu/check_cuda.sh sets it)";
    dir_ = std::filesystem::path(root) / GetParam().model;
    gpu_.device = "cuda";
    gpu_.gpu_dtype = GetParam().dtype;
  }
  std::string Label() const { return std::string(GetParam().model) + " " + GetParam().dtype; }

  std::filesystem::path dir_;
  EngineOptions gpu_;
};

std::vector<int32_t> RandomTokens(int64_t n, int64_t vocab) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> out(static_cast<size_t>(n));
  for (int32_t& t : out) t = pick(rng);
  return out;
}

// One position's logits against a reference. Random weights give near-flat logits, where BF16
// rounding alone swaps near-tied leaders: a position is decisive when the reference leader is ahead
// by more than four times the position's RMS logit error.
struct PositionComparison {
  double diff2 = 0, ref2 = 0;  // squared error and squared reference, summed over the vocabulary
  bool same_top1 = false, decisive = false;
};

PositionComparison Compare(const float* logits, const float* reference, int64_t vocab) {
  PositionComparison c;
  for (int64_t i = 0; i < vocab; ++i) {
    c.diff2 += (logits[i] - reference[i]) * static_cast<double>(logits[i] - reference[i]);
    c.ref2 += reference[i] * static_cast<double>(reference[i]);
  }
  const int64_t best = FirstMaximum(absl::MakeConstSpan(reference, static_cast<size_t>(vocab)));
  float runner_up = -1e30f;
  for (int64_t i = 0; i < vocab; ++i) {
    if (i != best) runner_up = std::max(runner_up, reference[i]);
  }
  c.same_top1 = FirstMaximum(absl::MakeConstSpan(logits, static_cast<size_t>(vocab))) == best;
  c.decisive = reference[best] - runner_up > 4.0 * std::sqrt(c.diff2 / static_cast<double>(vocab));
  return c;
}

// Positions compared so far: their relative L2 error taken together, and how their leaders agree.
struct ComparisonTotals {
  double diff2 = 0, ref2 = 0;
  int64_t positions = 0, agree = 0, decisive = 0, decisive_agree = 0;
  void Add(const PositionComparison& c) {
    diff2 += c.diff2;
    ref2 += c.ref2;
    ++positions;
    agree += c.same_top1;
    decisive += c.decisive;
    decisive_agree += c.decisive && c.same_top1;
  }
  // A position whose reference leader must stay the leader where it is decisive; `where` names it.
  void AddAgreeing(const PositionComparison& c, const std::string& where) {
    Add(c);
    if (c.decisive) {
      EXPECT_TRUE(c.same_top1) << where;
    }
  }
  double relative() const { return std::sqrt(diff2 / ref2); }
};

// Three prompts of 100, 37 and 163 random tokens.
std::vector<std::vector<int32_t>> ThreeRandomPrompts(int64_t vocab) {
  const std::vector<int32_t> all = RandomTokens(300, vocab);
  return {{all.begin(), all.begin() + 100}, {all.begin() + 100, all.begin() + 137}, {all.begin() + 137, all.end()}};
}

TEST_P(Cuda16BitTest, LogitsWithinTwoPercentOfCpuFp32AndDecisiveTop1Agrees) {
  absl::StatusOr<LoadedModel> g = LoadModel(dir_, gpu_);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->engine->WeightDType(), GetParam().dtype);
  absl::StatusOr<LoadedModel> c = LoadModel(dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  const int64_t vocab = c->engine->config().vocab_size;
  const std::vector<int32_t> tokens = RandomTokens(512, vocab);
  auto seq_g = g->engine->NewSequence();
  auto seq_c = c->engine->NewSequence();
  std::vector<std::vector<float>> lg, lc;
  ASSERT_TRUE(g->engine->Forward({{seq_g.get(), tokens, true}}, &lg).ok());
  ASSERT_TRUE(c->engine->Forward({{seq_c.get(), tokens, true}}, &lc).ok());
  ComparisonTotals totals;
  for (int64_t p = 0; p < 512; ++p) totals.Add(Compare(lg[0].data() + p * vocab, lc[0].data() + p * vocab, vocab));
  const double top1 = static_cast<double>(totals.agree) / static_cast<double>(totals.positions);
  const double decisive_top1 =
      totals.decisive > 0 ? static_cast<double>(totals.decisive_agree) / static_cast<double>(totals.decisive) : 0;
  std::cout << Label() << " vs cpu fp32 over 512 positions: relative L2 error " << totals.relative()
            << ", top-1 agreement " << top1 << " (" << decisive_top1 << " over " << totals.decisive
            << " decisive positions), KV bytes/token " << g->engine->KvBytesPerToken() << "\n";
  EXPECT_LE(totals.relative(), 2e-2);
  EXPECT_GE(totals.decisive, 100);
  EXPECT_GE(decisive_top1, 0.99);
}

TEST_P(Cuda16BitTest, DecodeStepsMatchCpuFp32) {
  // After a 700-token prompt, 24 steps of one given token each: the decode kernels (MLA: the latent
  // kernel where its dims are compiled), their context split in chunks of 256 and merged.
  absl::StatusOr<LoadedModel> g = LoadModel(dir_, gpu_);
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<LoadedModel> c = LoadModel(dir_);
  ASSERT_TRUE(c.ok()) << c.status();
  const int64_t vocab = c->engine->config().vocab_size;
  const std::vector<int32_t> tokens = RandomTokens(724, vocab);
  constexpr int64_t kPrompt = 700;
  auto seq_g = g->engine->NewSequence();
  auto seq_c = c->engine->NewSequence();
  const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + kPrompt);
  std::vector<std::vector<float>> lg, lc;
  ASSERT_TRUE(g->engine->Forward({{seq_g.get(), prompt, false}}, &lg).ok());
  ASSERT_TRUE(c->engine->Forward({{seq_c.get(), prompt, false}}, &lc).ok());
  ComparisonTotals totals;
  for (int64_t p = kPrompt; p < static_cast<int64_t>(tokens.size()); ++p) {
    const std::vector<int32_t> one = {tokens[static_cast<size_t>(p)]};
    ASSERT_TRUE(g->engine->Forward({{seq_g.get(), one, false}}, &lg).ok());
    ASSERT_TRUE(c->engine->Forward({{seq_c.get(), one, false}}, &lc).ok());
    totals.AddAgreeing(Compare(lg[0].data(), lc[0].data(), vocab), fmt::format("position {}", p));
  }
  std::cout << Label() << ": 24 decode steps after 700 prompt tokens vs cpu fp32, relative L2 " << totals.relative()
            << "\n";
  EXPECT_LE(totals.relative(), 2e-2);
}

TEST_P(Cuda16BitTest, PromptInTwoChunksMatchesOnePrompt) {
  // The second chunk's prompt tiles attend to cache positions written by the first (the prefill
  // kernel's start_position > 0 path). Its logits must match the same positions of one 512-token
  // prompt within the 16-bit tolerance (the GEMMs see different row counts), decisive leaders equal.
  absl::StatusOr<LoadedModel> g = LoadModel(dir_, gpu_);
  ASSERT_TRUE(g.ok()) << g.status();
  Engine& engine = *g->engine;
  const int64_t vocab = engine.config().vocab_size;
  const std::vector<int32_t> tokens = RandomTokens(512, vocab);
  constexpr int64_t kFirst = 300;
  auto whole = engine.NewSequence();
  auto chunked = engine.NewSequence();
  const std::vector<int32_t> head(tokens.begin(), tokens.begin() + kFirst), tail(tokens.begin() + kFirst, tokens.end());
  std::vector<std::vector<float>> one, first, second;
  ASSERT_TRUE(engine.Forward({{whole.get(), tokens, true}}, &one).ok());
  ASSERT_TRUE(engine.Forward({{chunked.get(), head, false}}, &first).ok());
  ASSERT_TRUE(engine.Forward({{chunked.get(), tail, true}}, &second).ok());
  ComparisonTotals totals;
  for (int64_t p = kFirst; p < 512; ++p) {
    totals.AddAgreeing(Compare(second[0].data() + (p - kFirst) * vocab, one[0].data() + p * vocab, vocab),
                       fmt::format("position {}", p));
  }
  std::cout << Label() << ": second chunk vs one prompt relative L2 " << totals.relative() << "\n";
  EXPECT_LE(totals.relative(), 2e-2);
}

TEST_P(Cuda16BitTest, BatchedStepsMatchOneAtATime) {
  // Three sequences of different lengths decode 16 greedy tokens together; each is then replayed
  // alone on the same tokens. cuBLAS picks GEMM kernels by row count, so float sums round
  // differently, and BF16 activations turn those last-bit differences into BF16 rounding flips that
  // spread like BF16 noise itself (measured 0.9% on the 1B models, 0 when the kernels coincide):
  // the logits must stay within the BF16 tolerance and every decisive leader must agree.
  absl::StatusOr<LoadedModel> g = LoadModel(dir_, gpu_);
  ASSERT_TRUE(g.ok()) << g.status();
  Engine& engine = *g->engine;
  const int64_t vocab = engine.config().vocab_size;
  const std::vector<std::vector<int32_t>> prompts = ThreeRandomPrompts(vocab);
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<std::vector<int32_t>> inputs = prompts, produced(prompts.size());
  std::vector<std::vector<std::vector<float>>> batched_logits(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) seqs.push_back(engine.NewSequence());
  for (int step = 0; step < 16; ++step) {
    std::vector<ForwardStep> steps;
    for (size_t i = 0; i < prompts.size(); ++i) steps.push_back({seqs[i].get(), inputs[i], false});
    std::vector<std::vector<float>> logits;
    ASSERT_TRUE(engine.Forward(steps, &logits).ok());
    for (size_t i = 0; i < prompts.size(); ++i) {
      produced[i].push_back(FirstMaximum(logits[i]));
      inputs[i] = {produced[i].back()};
      batched_logits[i].push_back(std::move(logits[i]));
    }
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto alone = engine.NewSequence();
    std::vector<int32_t> input = prompts[i];
    ComparisonTotals totals;
    for (int step = 0; step < 16; ++step) {
      std::vector<std::vector<float>> logits;
      ASSERT_TRUE(engine.Forward({{alone.get(), input, false}}, &logits).ok());
      totals.AddAgreeing(Compare(logits[0].data(), batched_logits[i][static_cast<size_t>(step)].data(), vocab),
                         fmt::format("prompt {} step {}", i, step));
      input = {produced[i][static_cast<size_t>(step)]};
    }
    std::cout << Label() << " prompt " << i << ": batched vs alone relative L2 " << totals.relative() << "\n";
    EXPECT_LE(totals.relative(), 2e-2) << "prompt " << i;
  }
}

TEST_P(Cuda16BitTest, GreedyTokensOnTheDeviceAreTheFirstMaximum) {
  absl::StatusOr<LoadedModel> g = LoadModel(dir_, gpu_);
  ASSERT_TRUE(g.ok()) << g.status();
  ExpectDeviceGreedyIsTheFirstMaximum(*g->engine, ThreeRandomPrompts(g->engine->config().vocab_size), Label());
}

INSTANTIATE_TEST_SUITE_P(Models, Cuda16BitTest,
                         ::testing::Values(SixteenBitCase{"gqa", "bf16"}, SixteenBitCase{"mla", "bf16"},
                                           SixteenBitCase{"gqa", "f16"}, SixteenBitCase{"qwen", "bf16"},
                                           SixteenBitCase{"qwen-mla", "bf16"}),
                         [](const ::testing::TestParamInfo<SixteenBitCase>& info) {
                           std::string name = std::string(info.param.model) + "_" + info.param.dtype;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// The conversion's stock-norm fold scales kv_a's latent rows by ~1e-8 (convert/stock_norms.h): BF16
// holds them, FP16 would flush them to zero and serve garbage (measured on the H200 before this
// check: relative logit error 1.40). Loading such a model in FP16 must fail and say why.
TEST(CudaHalfPrecisionTest, StockNormFoldedMlaRefusesF16SayingWhy) {
  if (const std::string why = CudaUnavailable(); !why.empty()) GTEST_SKIP() << why;
  const char* root = std::getenv("TRANSMLA_CUDA_MODELS");
  if (root == nullptr) GTEST_SKIP() << "TRANSMLA_CUDA_MODELS is not set (scripts/gpu/check_cuda.sh sets it)";
  EngineOptions gpu;
  gpu.device = "cuda";
  gpu.gpu_dtype = "f16";
  absl::StatusOr<LoadedModel> g = LoadModel(std::filesystem::path(root) / "mla", gpu);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(g.status().message().find("kv_a_proj_with_mqa"), std::string::npos) << g.status();
  EXPECT_NE(g.status().message().find("use bf16"), std::string::npos) << g.status();
}

// Calibration's blocks on the GPU against the CPU runner. Both are float32 throughout and differ
// only in summation order (cuBLAS vs Eigen GEMMs, the attention's), a few float32 roundings
// (~1e-7 relative) per output, so a block's change to the residual stream must agree to 1e-4
// relative with a wide margin; a wrong position, cache slot or norm would be off by O(1).
class CudaBlockRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = CudaUnavailable(); !why.empty()) GTEST_SKIP() << why;
    absl::StatusOr<std::unique_ptr<BlockRunner>> gpu = RegisteredGpuBackend()->create_block_runner();
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    gpu_ = *std::move(gpu);
    EXPECT_EQ(gpu_->device().rfind("cuda:", 0), 0u) << gpu_->device();
  }

  // Every block of the model in `dir`, each on the CPU output of the block before. 36 sequences of
  // 256 tokens (calibration's shape, scaled down) are more rows than the GPU runner takes in one
  // step, so its batching is part of the comparison.
  void CompareEveryBlock(const std::filesystem::path& dir) {
    absl::StatusOr<ModelConfig> config = ReadModelConfig(dir / "config.json");
    absl::StatusOr<TensorStore> store = TensorStore::OpenSafetensors(dir);
    ASSERT_TRUE(config.ok() && store.ok());
    absl::StatusOr<cpu::Mat> embed =
        cpu::LoadMatrix(*store, "model.embed_tokens.weight", config->vocab_size, config->hidden_size);
    ASSERT_TRUE(embed.ok()) << embed.status();
    constexpr int64_t kSequences = 36, kLength = 256;
    const std::vector<int32_t> tokens = RandomTokens(kSequences * kLength, config->vocab_size);
    cpu::Mat hidden(kSequences * kLength, config->hidden_size);
    for (size_t r = 0; r < tokens.size(); ++r) hidden.row(static_cast<int64_t>(r)) = embed->row(tokens[r]);
    std::vector<cpu::SequenceSlice> slices;
    for (int64_t i = 0; i < kSequences; ++i) slices.push_back({nullptr, i * kLength, kLength, 0});
    cpu::CpuBlockRunner cpu;
    for (int64_t block = 0; block < config->num_hidden_layers; ++block) {
      absl::StatusOr<cpu::Mat> c = cpu.Run(*config, *store, block, hidden, slices);
      absl::StatusOr<cpu::Mat> g = gpu_->Run(*config, *store, block, hidden, slices);
      ASSERT_TRUE(c.ok()) << c.status();
      ASSERT_TRUE(g.ok()) << g.status();
      const double change = (*c - hidden).cast<double>().norm(), diff = (*g - *c).cast<double>().norm();
      std::cout << dir.filename() << " block " << block << ": |gpu - cpu| / |block change| = " << diff / change << "\n";
      EXPECT_LE(diff / change, 1e-4) << dir << " block " << block;
      hidden = *std::move(c);
    }
  }

  std::unique_ptr<BlockRunner> gpu_;
};

TEST_F(CudaBlockRunnerTest, GqaBlocksMatchTheCpuRunnerInF32) { CompareEveryBlock(BundledModelDir()); }

// A stories260K conversion calibrated on `device` (16 samples of the bundled text).
absl::StatusOr<nlohmann::json> CalibratedConversion(convert::Mode mode, const std::string& device,
                                                    const std::filesystem::path& out) {
  convert::ConversionOptions options;
  options.mode = mode;
  options.calibration.text = ::transmla::testing::BundledTextFile();
  options.calibration.samples = 16;
  options.calibration.device = device;
  return convert::ConvertModel(BundledModelDir(), out, options);
}

TEST_F(CudaBlockRunnerTest, MlaBlocksMatchTheCpuRunnerInF32) {
  // deepseek (latent + partial RoPE) and exact (qk_nope_head_dim 0, longrope factors).
  for (const convert::Mode mode : {convert::Mode::kDeepseek, convert::Mode::kExact}) {
    const std::filesystem::path out = ::transmla::testing::MakeTempDir("cuda_blocks") / convert::ModeName(mode);
    absl::StatusOr<nlohmann::json> report = CalibratedConversion(mode, "cuda", out);
    ASSERT_TRUE(report.ok()) << report.status();
    CompareEveryBlock(out);
  }
}

TEST_F(CudaBlockRunnerTest, RefitSumsMatchTheCpu) {
  // Random operands of odd sizes (4 heads, a 48-wide latent, 8 rope dims, sequences of 37, 130 and
  // 1 tokens), with and without NoPE dims. Both sides multiply in float32 and add sequences in
  // float64: they differ by float32 rounding in different orders (scores of a few units through
  // exp: ~1e-6 relative), well under 1e-4; a misplaced head, dim or mask would be off by O(1).
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  auto random = [&](int64_t rows, int64_t cols) {
    cpu::Mat m(rows, cols);
    for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
    return m;
  };
  constexpr int64_t kHeads = 4, kRank = 48, kRope = 8, kValue = 24;
  for (const int64_t nope : {24, 0}) {
    const cpu::Mat kv_b = random(kHeads * (nope + kValue), kRank);
    std::vector<cpu::Mat> latents, queries, rope_keys, outputs;
    for (const int64_t n : {37, 130, 1}) {
      latents.push_back(random(n, kRank));
      queries.push_back(random(n, kHeads * (nope + kRope)));
      rope_keys.push_back(random(n, kRope));
      outputs.push_back(random(n, kHeads * kValue));
    }
    RefitProblem problem{kHeads, kRank, nope, kRope, kValue, 1.0f / std::sqrt(static_cast<float>(nope + kRope)),
                         &kv_b, {}, {}, {}, {}};
    for (size_t i = 0; i < latents.size(); ++i) {
      problem.latents.push_back(&latents[i]);
      problem.queries.push_back(&queries[i]);
      problem.rope_keys.push_back(&rope_keys[i]);
      problem.outputs.push_back(&outputs[i]);
    }
    const RefitSums cpu = convert::AccumulateRefitSums(problem);
    absl::StatusOr<RefitSums> gpu = gpu_->AccumulateRefit(problem);
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    ASSERT_EQ(gpu->gram.size(), static_cast<size_t>(kHeads));
    double worst = 0;
    for (size_t h = 0; h < cpu.gram.size(); ++h) {
      const double gram = (gpu->gram[h] - cpu.gram[h]).norm() / cpu.gram[h].norm();
      const double cross = (gpu->cross[h] - cpu.cross[h]).norm() / cpu.cross[h].norm();
      EXPECT_LE(gram, 1e-4) << "nope " << nope << " head " << h;
      EXPECT_LE(cross, 1e-4) << "nope " << nope << " head " << h;
      worst = std::max({worst, gram, cross});
    }
    std::cout << "refit sums, nope " << nope << ": largest relative difference gpu vs cpu " << worst << "\n";
  }
}

TEST_F(CudaBlockRunnerTest, DecomposesSymmetricLikeTheCpu) {
  // A covariance of 700 dims with clustered eigenvalues (the joint PCA's moments are such), and an
  // empty one. cuSOLVER's and Eigen's dsyevd-class solvers agree to ~1e-12 relative on the values;
  // the vectors are checked by their residual and orthonormality (signs may differ).
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(900, 700);
  const Eigen::MatrixXd a = x.transpose() * x;
  Eigen::VectorXd values;
  Eigen::MatrixXd vectors;
  ASSERT_TRUE(gpu_->DecomposeSymmetric(a, &values, &vectors).ok());
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> cpu(a);
  ASSERT_EQ(values.size(), 700);
  const double worst = (values - cpu.eigenvalues()).cwiseAbs().maxCoeff() / cpu.eigenvalues().maxCoeff();
  EXPECT_LT(worst, 1e-9);
  EXPECT_LT((a * vectors - vectors * values.asDiagonal()).norm(), 1e-9 * a.norm());
  EXPECT_LT((vectors.transpose() * vectors - Eigen::MatrixXd::Identity(700, 700)).norm(), 1e-9);
  std::cout << "gpu eigendecomposition, 700 dims: eigenvalues within " << worst << " of the largest\n";
  ASSERT_TRUE(gpu_->DecomposeSymmetric(Eigen::MatrixXd(0, 0), &values, &vectors).ok());
  EXPECT_EQ(values.size(), 0);
}

TEST_F(CudaBlockRunnerTest, CalibrationOnTheGpuConvertsAsOnTheCpu) {
  const std::filesystem::path dir = ::transmla::testing::MakeTempDir("cuda_calibration");
  absl::StatusOr<nlohmann::json> gpu = CalibratedConversion(convert::Mode::kDeepseek, "cuda", dir / "gpu");
  absl::StatusOr<nlohmann::json> cpu = CalibratedConversion(convert::Mode::kDeepseek, "cpu", dir / "cpu");
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  const std::string device = (*gpu)["calibration"]["device"];
  EXPECT_EQ(device.rfind("cuda:", 0), 0u) << device;
  EXPECT_EQ((*cpu)["calibration"]["device"], "cpu");
  // The balance search's errors are ~0.04 and candidates differ by ~1e-3 of that; float32
  // rounding moves them by ~1e-6.
  for (size_t i = 0; i < (*cpu)["layers"].size(); ++i) {
    const double g = (*gpu)["layers"][i]["block_output_relative_error"];
    const double c = (*cpu)["layers"][i]["block_output_relative_error"];
    EXPECT_NEAR(g, c, 1e-3 * c) << "layer " << i;
  }
}

}  // namespace
}  // namespace transmla
