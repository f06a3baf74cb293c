// Conversion of the other source shapes: MHA (n_kv = n_heads), qwen2 (q/k/v biases), mistral;
// absorbed vs naive MLA decode on compressed outputs; the q_lora path.
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include "core/convert/converter.h"
#include "core/engine/model_loader.h"
#include "core/io/hf_config.h"
#include "core/io/safetensors.h"
#include "core/io/tensor_store.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::convert {
namespace {

using ::transmla::testing::BundledModelDir;
using ::transmla::testing::MakeTempDir;

const std::vector<int32_t> kStory = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 290, 395, 317, 426, 338};

std::vector<float> Logits(const std::filesystem::path& model, bool absorbed = true) {
  EngineOptions options;
  options.absorbed_mla = absorbed;
  absl::StatusOr<LoadedModel> m = LoadModel(model, options);
  EXPECT_TRUE(m.ok()) << m.status();
  auto seq = m->engine->NewSequence();
  std::vector<std::vector<float>> logits;
  EXPECT_TRUE(m->engine->Forward({{seq.get(), kStory, true}}, &logits).ok());
  return logits.at(0);
}

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// A copy of stories260K with its tensors transformed by `edit` (name, floats) and new tensors added
// by `extra`, under a config edited by `edit_config`.
std::filesystem::path Variant(const std::string& tag,
                              const std::function<void(const std::string&, std::vector<int64_t>*, std::vector<float>*)>& edit,
                              const std::map<std::string, std::vector<float>>& extra,
                              const std::function<void(nlohmann::json*)>& edit_config) {
  const std::filesystem::path dir = MakeTempDir(tag);
  absl::StatusOr<TensorStore> store = TensorStore::OpenSafetensors(BundledModelDir());
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors;
  for (const std::string& name : store->Names()) {
    std::vector<float> values;
    EXPECT_TRUE(ConvertToFloat(*store->Find(name), &values).ok());
    std::vector<int64_t> shape = store->Find(name)->shape;
    edit(name, &shape, &values);
    tensors[name] = {shape, values};
  }
  for (const auto& [name, values] : extra) tensors[name] = {{static_cast<int64_t>(values.size())}, values};
  std::vector<TensorSpec> specs;
  for (const auto& [name, t] : tensors) specs.push_back({name, DType::kF32, t.first});
  auto writer = SafetensorsWriter::Create(dir, specs);
  for (const auto& [name, t] : tensors) EXPECT_TRUE((*writer)->WriteFloats(name, t.second.data(), t.second.size()).ok());
  EXPECT_TRUE((*writer)->Commit().ok());
  nlohmann::json config = *ReadJsonFile(BundledModelDir() / "config.json");
  edit_config(&config);
  std::ofstream(dir / "config.json") << config.dump();
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) std::filesystem::copy(BundledModelDir() / f, dir / f);
  return dir;
}

void NoEdit(const std::string&, std::vector<int64_t>*, std::vector<float>*) {}

std::filesystem::path Convert(const std::filesystem::path& source, ConversionOptions options, const std::string& tag) {
  const std::filesystem::path out = MakeTempDir(tag) / "mla";
  absl::StatusOr<nlohmann::json> report = ConvertModel(source, out, options);
  EXPECT_TRUE(report.ok()) << report.status();
  return out;
}

ConversionOptions Exact() {
  ConversionOptions o;
  o.mode = Mode::kExact;
  return o;
}

TEST(ArchitecturesTest, MhaSourceConvertsExactly) {
  // Repeating each kv head for both query heads of its group turns GQA into MHA with the same function.
  const std::filesystem::path mha = Variant(
      "mha",
      [](const std::string& name, std::vector<int64_t>* shape, std::vector<float>* v) {
        if (name.find("k_proj") == std::string::npos && name.find("v_proj") == std::string::npos) return;
        std::vector<float> out;
        for (int g = 0; g < 4; ++g) {
          for (int copy = 0; copy < 2; ++copy) out.insert(out.end(), v->begin() + g * 8 * 64, v->begin() + (g + 1) * 8 * 64);
        }
        *v = out;
        (*shape)[0] = 64;
      },
      {}, [](nlohmann::json* c) { (*c)["num_key_value_heads"] = 8; });
  const std::vector<float> original = Logits(BundledModelDir());
  EXPECT_LT(MaxAbsDiff(Logits(mha), original), 1e-4f);
  EXPECT_LT(MaxAbsDiff(Logits(Convert(mha, Exact(), "mha_exact")), original), 1e-4f);
  ConversionOptions deepseek;
  deepseek.deepseek.kv_lora_rank = 32;
  EXPECT_EQ(ReadModelConfig(Convert(mha, deepseek, "mha_ds"))->kv_lora_rank, 32);
}

TEST(ArchitecturesTest, Qwen2BiasesAreCarriedExactly) {
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  std::map<std::string, std::vector<float>> biases;
  for (int l = 0; l < 5; ++l) {
    for (const auto& [proj, n] : {std::pair{"q_proj", 64}, std::pair{"k_proj", 32}, std::pair{"v_proj", 32}}) {
      std::vector<float> b(n);
      for (float& x : b) x = noise(rng);
      biases["model.layers." + std::to_string(l) + ".self_attn." + proj + ".bias"] = b;
    }
  }
  const std::filesystem::path qwen = Variant("qwen2", NoEdit, biases, [](nlohmann::json* c) {
    (*c)["model_type"] = "qwen2";
    c->erase("attention_bias");  // Qwen2 configs do not spell it: the biases are implied
  });
  const std::vector<float> with_bias = Logits(qwen);
  EXPECT_GT(MaxAbsDiff(with_bias, Logits(BundledModelDir())), 1e-2f) << "the biases must matter for this test";
  const std::filesystem::path exact = Convert(qwen, Exact(), "qwen_exact");
  EXPECT_EQ(ReadModelConfig(exact)->q_lora_rank, 65);  // d + 1: the query-bias path
  EXPECT_LT(MaxAbsDiff(Logits(exact), with_bias), 1e-4f);
  ConversionOptions deepseek;
  deepseek.deepseek.kv_lora_rank = 56;
  deepseek.deepseek.qk_rope_head_dim = 8;  // full rank, partial RoPE
  EXPECT_EQ(Logits(Convert(qwen, deepseek, "qwen_ds")).size(), with_bias.size());
}

TEST(ArchitecturesTest, MistralConverts) {
  const std::filesystem::path mistral = Variant("mistral", NoEdit, {}, [](nlohmann::json* c) { (*c)["model_type"] = "mistral"; });
  EXPECT_LT(MaxAbsDiff(Logits(Convert(mistral, Exact(), "mistral_exact")), Logits(BundledModelDir())), 1e-4f);
}

TEST(ArchitecturesTest, AbsorbedAndNaiveDecodeAgreeOnCompressedModels) {
  ConversionOptions options;
  options.deepseek.kv_lora_rank = 12;
  options.deepseek.qk_rope_head_dim = 6;
  const std::filesystem::path out = Convert(BundledModelDir(), options, "absorb");
  EXPECT_LT(MaxAbsDiff(Logits(out, true), Logits(out, false)), 1e-4f);
}

TEST(ArchitecturesTest, FullRankQueryLoraKeepsTheFunction) {
  ConversionOptions plain;
  plain.deepseek.kv_lora_rank = 16;
  ConversionOptions lora = plain;
  lora.deepseek.q_lora_rank = 65;  // d + 1: nothing dropped
  const std::filesystem::path a = Convert(BundledModelDir(), plain, "qlora_plain");
  const std::filesystem::path b = Convert(BundledModelDir(), lora, "qlora_full");
  EXPECT_EQ(ReadModelConfig(b)->q_lora_rank, 65);
  EXPECT_LT(MaxAbsDiff(Logits(a), Logits(b)), 1e-3f);
  lora.deepseek.q_lora_rank = 32;
  EXPECT_EQ(ReadModelConfig(Convert(BundledModelDir(), lora, "qlora_32"))->q_lora_rank, 32);
}

}  // namespace
}  // namespace transmla::convert
