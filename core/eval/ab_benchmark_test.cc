#include "core/eval/ab_benchmark.h"

#include <fstream>
#include <sstream>

#include "core/convert/converter.h"
#include "core/eval/ab_benchmark_report.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

using ::transmla::testing::BundledModelDir;
using ::transmla::testing::BundledTextFile;
using ::transmla::testing::MakeTempDir;

std::string Text() {
  std::ifstream in(BundledTextFile());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

AbBenchmarkSpec SmallSpec() {
  AbBenchmarkSpec spec;
  spec.batch = 3;
  spec.prompt_length = 16;
  spec.output_length = 8;
  spec.context_lengths = {32, 64};
  spec.context_steps = 4;
  spec.quality_text = Text();
  spec.quality_documents = 20;
  return spec;
}

TEST(AbBenchmarkTest, ExactConversionAgreesAndMeasuresBothModels) {
  const std::filesystem::path mla = MakeTempDir("ab_exact") / "mla";
  convert::ConversionOptions options;
  options.mode = convert::Mode::kExact;
  ASSERT_TRUE(convert::ConvertModel(BundledModelDir(), mla, options).ok());
  absl::StatusOr<LoadedModel> a = LoadModel(BundledModelDir());
  absl::StatusOr<LoadedModel> b = LoadModel(mla);
  ASSERT_TRUE(a.ok() && b.ok());
  int events = 0;
  absl::StatusOr<AbBenchmarkResult> r = RunAbBenchmark(*a, "gqa", *b, "mla", SmallSpec(), [&](const AbBenchmarkProgress& p) {
    ++events;
    EXPECT_LE(p.done, p.total);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(events, 10);
  EXPECT_TRUE(r->has_quality);
  EXPECT_LT(r->mean_kl, 1e-6);
  EXPECT_EQ(r->top1_agreement, 1.0);
  EXPECT_NEAR(r->a.perplexity, r->b.perplexity, 1e-4 * r->a.perplexity);
  EXPECT_EQ(r->a.architecture, "llama");
  EXPECT_EQ(r->b.architecture, "deepseek_v3");
  for (const ModelBenchmark* m : {&r->a, &r->b}) {
    EXPECT_GT(m->decode_tokens_per_s, 0);
    EXPECT_GT(m->prefill_tokens_per_s, 0);
    EXPECT_GT(m->step_latency.p50, 0);
    EXPECT_LE(m->step_latency.p50, m->step_latency.p99);
    EXPECT_GT(m->peak_memory_bytes, 0);
    ASSERT_EQ(m->contexts.size(), 2u);
    EXPECT_EQ(m->contexts[1].context_length, 64);
    // The workload's largest cache: 3 sequences of 64 + 4 tokens in the context sweep.
    EXPECT_EQ(m->peak_kv_bytes, 3 * 68 * m->kv_bytes_per_token);
  }
  const std::string table = AbBenchmarkTable(*r);
  EXPECT_NE(table.find("top-1 agreement"), std::string::npos);
  EXPECT_EQ(AbBenchmarkToJson(*r)["quality"]["top1_agreement"], 1.0);
}

TEST(AbBenchmarkTest, BadSpecsAreNamedAndCancellationStops) {
  absl::StatusOr<LoadedModel> a = LoadModel(BundledModelDir());
  ASSERT_TRUE(a.ok());
  AbBenchmarkSpec spec = SmallSpec();
  spec.batch = 0;
  absl::Status s = RunAbBenchmark(*a, "a", *a, "a", spec, nullptr).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("batch"), std::string::npos) << s;
  spec = SmallSpec();
  spec.context_lengths = {100000};
  s = RunAbBenchmark(*a, "a", *a, "a", spec, nullptr).status();
  EXPECT_NE(s.message().find("context_lengths"), std::string::npos) << s;
  s = RunAbBenchmark(*a, "a", *a, "a", SmallSpec(), [](const AbBenchmarkProgress&) { return false; }).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
}

TEST(AbBenchmarkTest, CheckpointsWithoutTokenizerRunOnSyntheticPrompts) {
  // Synthetic checkpoints made for benchmarking (make_synthetic_model) carry no tokenizer.json.
  const std::filesystem::path dir = MakeTempDir("ab_no_tokenizer") / "model";
  std::filesystem::create_directories(dir);
  for (const auto& entry : std::filesystem::directory_iterator(BundledModelDir())) {
    if (entry.path().filename() != "tokenizer.json") std::filesystem::copy(entry.path(), dir / entry.path().filename());
  }
  absl::StatusOr<LoadedModel> a = LoadModel(dir);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->tokenizer, nullptr);
  AbBenchmarkSpec spec = SmallSpec();
  absl::Status needs = RunAbBenchmark(*a, "a", *a, "a", spec, nullptr).status();
  EXPECT_EQ(needs.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(needs.message().find("tokenizer.json"), std::string::npos) << needs;
  spec.quality_text.clear();
  absl::StatusOr<AbBenchmarkResult> r = RunAbBenchmark(*a, "a", *a, "b", spec, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_quality);
  EXPECT_GT(r->a.decode_tokens_per_s, 0);
  EXPECT_GT(r->b.prefill_tokens_per_s, 0);
  EXPECT_EQ(r->b.contexts.size(), 2u);
}

}  // namespace
}  // namespace transmla
