#include "core/convert/value_refit.h"

#include <omp.h>

#include <random>

#include "core/io/hf_config.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::convert {
namespace {

constexpr int64_t kWidth = 1024, kHeads = 4, kKvHeads = 2, kHeadDim = 64, kNope = 48, kRope = 16, kRank = 32;

// A random GQA layer 1024 wide, a random candidate conversion of it and random normed inputs.
class ValueRefitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ModelConfig> read = ReadModelConfig(::transmla::testing::BundledModelDir() / "config.json");
    ASSERT_TRUE(read.ok()) << read.status();
    config_ = *read;
    config_.hidden_size = kWidth;
    config_.num_attention_heads = kHeads;
    config_.num_key_value_heads = kKvHeads;
    config_.head_dim = kHeadDim;
    original_.wq = Random(kHeads * kHeadDim, kWidth);
    original_.wk = Random(kKvHeads * kHeadDim, kWidth);
    original_.wv = Random(kKvHeads * kHeadDim, kWidth);
    candidate_.q_proj = Random(kHeads * (kNope + kRope), kWidth);
    candidate_.kv_a = Random(kRank + kRope, kWidth);
    candidate_.kv_b = Random(kHeads * (kNope + kHeadDim), kRank);
    shape_.heads = kHeads;
    shape_.kv_lora_rank = kRank;
    shape_.qk_nope_head_dim = kNope;
    shape_.qk_rope_head_dim = kRope;
    shape_.v_head_dim = kHeadDim;
    frequencies_.resize(kRope / 2);
    for (size_t i = 0; i < frequencies_.size(); ++i) frequencies_[i] = std::pow(10000.0, -2.0 * i / kRope);
  }

  MatD Random(int64_t rows, int64_t cols) {
    MatD m(rows, cols);
    for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = normal_(rng_);
    return m;
  }
  cpu::Mat RandomInputs(int64_t tokens) { return (Random(tokens, kWidth) * 1000).cast<float>(); }

  RefitInputs Prepare(const cpu::Mat& normed, const std::vector<cpu::SequenceSlice>& sequences) {
    return PrepareValueRefit(config_, original_, shape_, frequencies_, normed, sequences, candidate_);
  }

  std::mt19937 rng_{5};
  std::normal_distribution<double> normal_{0.0, 0.03};
  ModelConfig config_;
  GqaLayer original_;
  MlaLayer candidate_;
  MlaShape shape_;
  std::vector<double> frequencies_;
};

// Each sequence's refit inputs are computed on one thread, so a conversion on a 16-core machine
// writes the same weights as on 2 cores. The layer is 1024 wide: products that deep are blocked
// differently when Eigen spreads them over threads, and round differently.
TEST_F(ValueRefitTest, InputsDoNotDependOnTheThreadCount) {
  const cpu::Mat normed = RandomInputs(300);
  const std::vector<cpu::SequenceSlice> sequences = {
      {nullptr, 0, 140, 0}, {nullptr, 140, 97, 0}, {nullptr, 237, 63, 0}};
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const RefitInputs one = Prepare(normed, sequences);
  omp_set_num_threads(3);
  const RefitInputs three = Prepare(normed, sequences);
  omp_set_num_threads(threads);
  ASSERT_EQ(one.original_outputs.size(), sequences.size());
  for (size_t i = 0; i < sequences.size(); ++i) {
    EXPECT_EQ(one.original_outputs[i], three.original_outputs[i]) << "sequence " << i;
    EXPECT_EQ(one.queries[i], three.queries[i]) << "sequence " << i;
    EXPECT_EQ(one.rope_keys[i], three.rope_keys[i]) << "sequence " << i;
  }
  EXPECT_EQ(one.output_energy, three.output_energy);
  EXPECT_GT(one.output_energy.at(0), 0.0);
}

// The heads' solves run in parallel, each on one thread: the refit weights are the same on any
// number of cores.
TEST_F(ValueRefitTest, RefitDoesNotDependOnTheThreadCount) {
  const cpu::Mat normed = RandomInputs(200);
  const std::vector<cpu::SequenceSlice> sequences = {{nullptr, 0, 120, 0}, {nullptr, 120, 80, 0}};
  const RefitInputs inputs = Prepare(normed, sequences);
  auto refit = [&](int threads) {
    omp_set_num_threads(threads);
    MlaLayer layer = candidate_;
    absl::StatusOr<RefitResult> result = RefitValueUpProjection(config_, shape_, normed, sequences, inputs, nullptr, &layer);
    EXPECT_TRUE(result.ok()) << result.status();
    return std::make_pair(layer.kv_b, result.ok() ? result->error_after : -1.0);
  };
  const int threads = omp_get_max_threads();
  const auto one = refit(1), three = refit(3);
  omp_set_num_threads(threads);
  EXPECT_NE(one.first, candidate_.kv_b) << "the refit changed nothing";
  EXPECT_EQ(one.first, three.first);
  EXPECT_EQ(one.second, three.second);
}

// With fewer calibration tokens than the latent rank, the refit sees only the latents' span: it
// lowers the calibration error there and leaves kv_b's value rows as they were in every other
// direction, instead of pulling them to zero (or to rounding noise) where no token constrains them.
TEST_F(ValueRefitTest, FewerTokensThanTheRankChangeOnlyTheDirectionsTheTokensReach) {
  const cpu::Mat normed = RandomInputs(20);
  const std::vector<cpu::SequenceSlice> sequences = {{nullptr, 0, 12, 0}, {nullptr, 12, 8, 0}};
  const RefitInputs inputs = Prepare(normed, sequences);
  MlaLayer refit = candidate_;
  absl::StatusOr<RefitResult> result =
      RefitValueUpProjection(config_, shape_, normed, sequences, inputs, nullptr, &refit);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LT(result->error_after, 0.5 * result->error_before);

  // Every attention-weighted latent lies in the span of the tokens' latents.
  const MatD latents = candidate_.kv_a.topRows(kRank) * normed.cast<double>().transpose();
  const MatD span = latents.householderQr().householderQ() * MatD::Identity(kRank, latents.cols());
  const MatD unreached = MatD::Identity(kRank, kRank) - span * span.transpose();
  for (int64_t h = 0; h < kHeads; ++h) {
    const int64_t row = h * (kNope + kHeadDim) + kNope;
    const MatD before = candidate_.kv_b.middleRows(row, kHeadDim);
    const MatD change = refit.kv_b.middleRows(row, kHeadDim) - before;
    EXPECT_GT(change.norm(), 1e-3 * before.norm()) << "head " << h;
    EXPECT_LT((change * unreached).norm(), 1e-2 * before.norm()) << "head " << h;
  }
}

}  // namespace
}  // namespace transmla::convert
