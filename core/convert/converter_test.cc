#include "core/convert/converter.h"

#include <cstring>
#include <fstream>

#include "core/convert/calibration.h"
#include "core/convert/deepseek_mode.h"
#include "core/convert/source_model.h"
#include "core/engine/gpu_backend.h"
#include "core/engine/model_loader.h"
#include "core/eval/perplexity.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::convert {
namespace {

using ::transmla::testing::BundledModelDir;
using ::transmla::testing::BundledTextFile;
using ::transmla::testing::MakeTempDir;

std::vector<float> Logits(Engine& engine, const std::vector<int32_t>& ids) {
  std::unique_ptr<Sequence> seq = engine.NewSequence();
  std::vector<std::vector<float>> logits;
  EXPECT_TRUE(engine.Forward({{seq.get(), ids, true}}, &logits).ok());
  return logits.at(0);
}

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

const std::vector<int32_t> kStory = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 290, 395, 317,
                                     426, 317, 306, 266, 267, 337, 335, 311, 357, 426, 338, 286, 393, 426};

TEST(ExactConversionTest, ConvertedModelComputesTheOriginalFunction) {
  const std::filesystem::path out = MakeTempDir("exact") / "mla";
  ConversionOptions options;
  options.mode = Mode::kExact;
  absl::StatusOr<nlohmann::json> report = ConvertModel(BundledModelDir(), out, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ((*report)["kv_bytes_per_token"]["before"], (*report)["kv_bytes_per_token"]["after"]);
  EXPECT_TRUE(std::filesystem::exists(out / "conversion_report.json"));
  EXPECT_TRUE(std::filesystem::exists(out / "tokenizer.json"));

  absl::StatusOr<ModelConfig> config = ReadModelConfig(out / "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, Architecture::kDeepseekV3);
  EXPECT_EQ(config->kv_lora_rank, 32);
  EXPECT_EQ(config->qk_rope_head_dim, 32);
  EXPECT_EQ(config->qk_nope_head_dim, 0);

  absl::StatusOr<LoadedModel> original = LoadModel(BundledModelDir());
  ASSERT_TRUE(original.ok());
  for (bool absorbed : {true, false}) {
    EngineOptions engine_options;
    engine_options.absorbed_mla = absorbed;
    absl::StatusOr<LoadedModel> converted = LoadModel(out, engine_options);
    ASSERT_TRUE(converted.ok()) << converted.status();
    EXPECT_EQ(converted->engine->KvBytesPerToken(), original->engine->KvBytesPerToken());
    // Same function; float32 rounding of the refactored products stays far below 1e-4.
    EXPECT_LT(MaxAbsDiff(Logits(*converted->engine, kStory), Logits(*original->engine, kStory)), 1e-4f)
        << (absorbed ? "absorbed" : "naive");
  }
}

TEST(ExactConversionTest, RefusesExistingOutputUnlessForced) {
  const std::filesystem::path out = MakeTempDir("exists");
  ConversionOptions options;
  options.mode = Mode::kExact;
  EXPECT_EQ(ConvertModel(BundledModelDir(), out, options).status().code(), absl::StatusCode::kAlreadyExists);
  options.force = true;
  EXPECT_TRUE(ConvertModel(BundledModelDir(), out, options).ok());
}

TEST(ExactConversionTest, RejectsShapeOptionsAndLeavesNothingOnCancel) {
  const std::filesystem::path dir = MakeTempDir("cancel");
  ConversionOptions options;
  options.mode = Mode::kExact;
  options.deepseek.kv_lora_rank = 16;
  EXPECT_EQ(ConvertModel(BundledModelDir(), dir / "a", options).status().code(), absl::StatusCode::kInvalidArgument);
  options.deepseek.kv_lora_rank = 0;
  int polls = 0;
  const absl::StatusOr<nlohmann::json> result =
      ConvertModel(BundledModelDir(), dir / "b", options, nullptr, [&] { return ++polls > 2; });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "staging files left behind";
}

TEST(ExactConversionTest, RefusesFp16OutputBeforeAnyWork) {
  // The stock-norm fold's latent rows (~1e-9) are below FP16's range: such a model computed NaN.
  const std::filesystem::path dir = MakeTempDir("f16");
  ConversionOptions options;
  options.mode = Mode::kExact;
  options.dtype = DType::kF16;
  const absl::Status status = ConvertModel(BundledModelDir(), dir / "out", options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("use bf16 or f32"), std::string::npos) << status;
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "nothing may be written";
}

TEST(DeepseekConversionTest, CancelLandsInsideTheFirstLayer) {
  const std::filesystem::path dir = MakeTempDir("cancel_in_layer");
  ConversionOptions options;
  options.calibration.text = BundledTextFile();
  options.calibration.samples = 16;
  int polls = 0, layers_done = 0;
  // The first poll is before layer 0; the next ones are inside it (balance candidates, refit...).
  const absl::StatusOr<nlohmann::json> result = ConvertModel(
      BundledModelDir(), dir / "mla", options, [&](const ConversionProgress& p) {
        if (p.stage == "convert") layers_done = static_cast<int>(p.done);
      },
      [&] { return ++polls > 3; });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(layers_done, 0) << "the cancel waited for a layer boundary";
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "staging files left behind";
}

TEST(DeepseekConversionTest, CalibrationDeviceIsCheckedBeforeAnyWork) {
  const std::filesystem::path dir = MakeTempDir("calibration_device");
  ConversionOptions options;
  options.calibration.text = BundledTextFile();
  options.calibration.samples = 4;
  options.calibration.device = "tpu";
  const absl::Status unknown = ConvertModel(BundledModelDir(), dir / "tpu", options).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument) << unknown;

  // This binary registers the CUDA backend only where a device is present (the CUDA tests do).
  const GpuBackend* gpu = RegisteredGpuBackend();
  if (gpu == nullptr || !gpu->available(nullptr)) {
    options.calibration.device = "cuda";
    const absl::Status cuda = ConvertModel(BundledModelDir(), dir / "cuda", options).status();
    EXPECT_EQ(cuda.code(), absl::StatusCode::kFailedPrecondition) << cuda;
    EXPECT_NE(cuda.message().find("calibration device cuda"), std::string::npos) << cuda;
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a refused conversion left files";

  options.calibration.device = "cpu";
  absl::StatusOr<nlohmann::json> report = ConvertModel(BundledModelDir(), dir / "cpu", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ((*report)["calibration"]["device"], "cpu");
  EXPECT_EQ((*report)["warnings"], nlohmann::json::array()) << "4 stories are plenty for rank 16";
  // Each layer says where its time went: the candidates' block runs, their conversion and refit.
  for (const nlohmann::json& layer : (*report)["layers"]) {
    for (const char* phase : {"read_and_moments", "block_runs", "conversion", "refit_inputs", "value_refit", "write"}) {
      ASSERT_TRUE(layer["seconds"].contains(phase)) << phase << " in " << layer["seconds"];
      EXPECT_GE(layer["seconds"][phase].get<double>(), 0.0) << phase;
    }
  }
}

// Fewer calibration tokens than latent dims cannot determine the latent: the conversion still
// runs, and says so in the log and in the report a pipeline reads.
TEST(DeepseekConversionTest, FewerCalibrationTokensThanTheRankAreWarned) {
  const std::filesystem::path dir = MakeTempDir("few_tokens");
  ConversionOptions options;
  options.calibration.text = BundledTextFile();
  options.calibration.samples = 1;
  options.calibration.max_length = 8;
  options.calibration.device = "cpu";
  options.deepseek.alpha_candidates.clear();
  const absl::StatusOr<nlohmann::json> report = ConvertModel(BundledModelDir(), dir / "mla", options);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ((*report)["warnings"].size(), 1u) << (*report)["warnings"];
  EXPECT_NE((*report)["warnings"][0].get<std::string>().find("8 calibration tokens, fewer than kv_lora_rank 16"),
            std::string::npos)
      << (*report)["warnings"];

  options.calibration.text.clear();
  const absl::StatusOr<nlohmann::json> data_free = ConvertModel(BundledModelDir(), dir / "free", options);
  ASSERT_TRUE(data_free.ok()) << data_free.status();
  ASSERT_EQ((*data_free)["warnings"].size(), 1u) << (*data_free)["warnings"];
  EXPECT_NE((*data_free)["warnings"][0].get<std::string>().find("data-free"), std::string::npos);
}

TEST(ExactConversionTest, RejectsUnsupportedArchitectureAndMissingTensors) {
  const std::filesystem::path dir = MakeTempDir("bad");
  ConversionOptions options;
  options.mode = Mode::kExact;
  ASSERT_TRUE(ConvertModel(BundledModelDir(), dir / "mla", options).ok());
  const absl::Status again = ConvertModel(dir / "mla", dir / "twice", options).status();
  EXPECT_EQ(again.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(again.message().find("deepseek_v3"), std::string::npos) << again;

  // A config promising a sixth layer the weights do not have.
  const std::filesystem::path broken = dir / "broken";
  std::filesystem::create_directory(broken);
  std::filesystem::copy(BundledModelDir(), broken, std::filesystem::copy_options::recursive);
  absl::StatusOr<nlohmann::json> config = ReadJsonFile(broken / "config.json");
  ASSERT_TRUE(config.ok());
  (*config)["num_hidden_layers"] = 6;
  std::ofstream(broken / "config.json") << config->dump();
  const absl::Status missing = ConvertModel(broken, dir / "out", options).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("model.layers.5."), std::string::npos) << missing;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
}

}  // namespace
}  // namespace transmla::convert

namespace transmla::convert {
namespace {

TEST(DeepseekConversionTest, AllPairsRopeAtFullRankIsExact) {
  // m = n_kv keeps RoPE on every key dim (longrope, repeated frequencies) and the full rank keeps V:
  // the deepseek pipeline must then reproduce the original function.
  const std::filesystem::path out = MakeTempDir("ds_full") / "mla";
  ConversionOptions options;
  options.deepseek.pairs_per_frequency = 4;
  options.deepseek.qk_rope_head_dim = 32;
  options.deepseek.kv_lora_rank = 32;
  absl::StatusOr<nlohmann::json> report = ConvertModel(BundledModelDir(), out, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ((*report)["rope"]["encoding"], "longrope");
  absl::StatusOr<LoadedModel> original = LoadModel(BundledModelDir());
  absl::StatusOr<LoadedModel> converted = LoadModel(out);
  ASSERT_TRUE(converted.ok()) << converted.status();
  EXPECT_LT(MaxAbsDiff(Logits(*converted->engine, kStory), Logits(*original->engine, kStory)), 1e-4f);
}

TEST(DeepseekConversionTest, CalibratedKv24BeatsThePrototypeOnHeldOutStories) {
  // SPEC §4: the prototype reaches perplexity 6.08 at 24 KV values/token/layer on stories 200-399
  // (calibration on stories 0-199); the default conversion must do at least as well.
  const std::filesystem::path out = MakeTempDir("ds_kv24") / "mla";
  ConversionOptions options;
  options.deepseek.qk_rope_head_dim = 6;
  options.deepseek.kv_lora_rank = 18;
  options.calibration.text = transmla::testing::BundledTextFile();
  options.calibration.documents = 200;
  absl::StatusOr<nlohmann::json> report = ConvertModel(BundledModelDir(), out, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ((*report)["kv_values_per_token_per_layer"]["after"], 24);
  EXPECT_EQ((*report)["rope"]["encoding"], "default");  // plain RoPE: runs in every stock engine
  absl::StatusOr<LoadedModel> converted = LoadModel(out);
  ASSERT_TRUE(converted.ok());
  std::ifstream in(transmla::testing::BundledTextFile());
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  PerplexityOptions eval;
  eval.skip = 200;
  eval.limit = 200;
  absl::StatusOr<PerplexityResult> ppl = ComputePerplexity(*converted->engine, *converted->tokenizer, text, eval);
  ASSERT_TRUE(ppl.ok());
  EXPECT_LT(ppl->ppl, 6.08);
}

// The value refit prepares queries and k_pe once per layer for all balance candidates.
TEST(DeepseekConversionTest, BalanceCandidatesShareQueriesAndRopeKeys) {
  absl::StatusOr<ModelConfig> config = ReadModelConfig(BundledModelDir() / "config.json");
  absl::StatusOr<TensorStore> store = TensorStore::OpenSafetensors(BundledModelDir());
  ASSERT_TRUE(config.ok() && store.ok());
  absl::StatusOr<DeepseekModeOptions> options = ResolveDeepseekOptions(*config, DeepseekModeOptions{});
  ASSERT_TRUE(options.ok()) << options.status();
  const std::unique_ptr<LayerConverter> converter = MakeDeepseekConverter(*config, *options);
  absl::StatusOr<GqaLayer> layer = ReadGqaLayer(*store, *config, 0);
  absl::StatusOr<VecD> norm = ReadVector(*store, "model.layers.0.input_layernorm.weight", config->hidden_size);
  ASSERT_TRUE(layer.ok() && norm.ok());
  const InputMoment moment = PriorMoment(*norm);
  nlohmann::json report;
  absl::StatusOr<std::unique_ptr<LayerConverter::Prepared>> prepared = converter->Prepare(0, *layer, moment, nullptr);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  absl::StatusOr<MlaLayer> a = (*prepared)->Convert(0.5, &report);
  absl::StatusOr<MlaLayer> b = (*prepared)->Convert(4.0, &report);
  ASSERT_TRUE(a.ok() && b.ok());
  const int64_t rope = options->qk_rope_head_dim, rank = options->kv_lora_rank;
  EXPECT_EQ(a->q_proj, b->q_proj);
  EXPECT_EQ(a->q_bias.has_value(), b->q_bias.has_value());
  EXPECT_EQ(a->kv_a.bottomRows(rope), b->kv_a.bottomRows(rope));
  EXPECT_NE(a->kv_a.topRows(rank), b->kv_a.topRows(rank));  // the balance does change the latent
}

TEST(DeepseekConversionTest, RejectsOutOfRangeShapes) {
  const std::filesystem::path dir = MakeTempDir("ds_bad");
  ConversionOptions options;
  options.deepseek.kv_lora_rank = 100;
  EXPECT_NE(ConvertModel(BundledModelDir(), dir / "a", options).status().message().find("kv_lora_rank"),
            std::string::npos);
  options = {};
  options.deepseek.qk_rope_head_dim = 7;
  EXPECT_NE(ConvertModel(BundledModelDir(), dir / "b", options).status().message().find("qk_rope_head_dim"),
            std::string::npos);
  options = {};
  options.deepseek.pairs_per_frequency = 5;
  EXPECT_NE(ConvertModel(BundledModelDir(), dir / "c", options).status().message().find("pairs per frequency"),
            std::string::npos);
  options = {};
  options.deepseek.freqfold = 3;  // head_dim 8: bands must divide 4 frequencies
  EXPECT_NE(ConvertModel(BundledModelDir(), dir / "d", options).status().message().find("freqfold"),
            std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

}  // namespace
}  // namespace transmla::convert
