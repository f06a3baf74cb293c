#include "core/engine/cpu/cpu_block_runner.h"

#include <memory>
#include <vector>

#include "core/engine/cpu/decoder_layer.h"
#include "core/engine/cpu/weight_loader.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::cpu {
namespace {

using ::transmla::testing::BundledModelDir;

// Two stories' token embeddings end to end: a block input with two sequences.
struct BlockInput {
  Mat hidden;
  std::vector<SequenceSlice> slices;
};

BlockInput TwoStories(const ModelConfig& config, const TensorStore& store) {
  const std::vector<std::vector<int32_t>> stories = {{1, 403, 407, 261, 378, 432, 383, 286, 261, 376},
                                                     {1, 426, 317, 306, 266, 267, 337, 335, 311, 357, 426, 338}};
  absl::StatusOr<Mat> embed = LoadMatrix(store, "model.embed_tokens.weight", config.vocab_size, config.hidden_size);
  EXPECT_TRUE(embed.ok()) << embed.status();
  BlockInput input;
  input.hidden.resize(22, config.hidden_size);
  int64_t row = 0;
  for (const auto& story : stories) {
    input.slices.push_back({nullptr, row, static_cast<int64_t>(story.size()), 0});
    for (int32_t id : story) input.hidden.row(row++) = embed->row(id);
  }
  return input;
}

class CpuBlockRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ModelConfig> config = ReadModelConfig(BundledModelDir() / "config.json");
    absl::StatusOr<TensorStore> store = TensorStore::OpenSafetensors(BundledModelDir());
    ASSERT_TRUE(config.ok() && store.ok());
    config_ = *config;
    store_ = *std::move(store);
    input_ = TwoStories(config_, store_);
  }

  ModelConfig config_;
  TensorStore store_;
  BlockInput input_;
};

TEST_F(CpuBlockRunnerTest, EqualsTheDecoderLayerRunWithFreshCaches) {
  // What layerwise calibration ran before the runner existed: the block loaded once and run with
  // a one-layer cache of its own per sequence.
  CpuBlockRunner runner;
  EXPECT_EQ(runner.device(), "cpu");
  for (const int64_t index : {0, 4}) {
    absl::StatusOr<std::unique_ptr<DecoderLayer>> layer = DecoderLayer::Load(config_, store_, index, true);
    ASSERT_TRUE(layer.ok()) << layer.status();
    auto budget = std::make_shared<KvBudget>(0);
    std::vector<std::unique_ptr<KvCache>> caches;
    std::vector<SequenceSlice> slices = input_.slices;
    for (SequenceSlice& s : slices) {
      caches.push_back(std::make_unique<KvCache>(1, (*layer)->values_per_token(), budget));
      ASSERT_TRUE(caches.back()->Reserve(s.count).ok());
      s.cache = caches.back().get();
    }
    Mat expected = input_.hidden;
    (*layer)->Forward(0, slices, &expected);

    absl::StatusOr<Mat> out = runner.Run(config_, store_, index, input_.hidden, input_.slices);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE((out->array() == expected.array()).all()) << "block " << index;
    EXPECT_GT((expected - input_.hidden).norm(), 0.0f);
  }
}

TEST_F(CpuBlockRunnerTest, EverySequenceIsAFreshPrefill) {
  CpuBlockRunner runner;
  absl::StatusOr<Mat> fresh = runner.Run(config_, store_, 1, input_.hidden, input_.slices);
  std::vector<SequenceSlice> later = input_.slices;
  for (SequenceSlice& s : later) s.start_position = 7;
  absl::StatusOr<Mat> ignored = runner.Run(config_, store_, 1, input_.hidden, later);
  ASSERT_TRUE(fresh.ok() && ignored.ok());
  EXPECT_TRUE((fresh->array() == ignored->array()).all());
  EXPECT_EQ(runner.mlp_cache().hits(), 1) << "the second run of the block converts its MLP again";
}

TEST_F(CpuBlockRunnerTest, RefusesSlicesThatMissRowsAndMissingBlocks) {
  CpuBlockRunner runner;
  std::vector<SequenceSlice> first_only = {input_.slices[0]};
  EXPECT_EQ(runner.Run(config_, store_, 0, input_.hidden, first_only).status().code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status missing = runner.Run(config_, store_, 5, input_.hidden, input_.slices).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("model.layers.5."), std::string::npos) << missing;
}

}  // namespace
}  // namespace transmla::cpu
