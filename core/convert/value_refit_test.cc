#include "core/convert/value_refit.h"

#include <omp.h>

#include <random>

#include "core/io/hf_config.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::convert {
namespace {

// Each sequence's refit inputs are computed on one thread, so a conversion on a 16-core machine
// writes the same weights as on 2 cores. The layer is 1024 wide: products that deep are blocked
// differently when Eigen spreads them over threads, and round differently.
TEST(ValueRefitTest, InputsDoNotDependOnTheThreadCount) {
  absl::StatusOr<ModelConfig> config = ReadModelConfig(::transmla::testing::BundledModelDir() / "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  constexpr int64_t kWidth = 1024, kHeads = 4, kKvHeads = 2, kHeadDim = 64, kNope = 48, kRope = 16, kRank = 32;
  config->hidden_size = kWidth;
  config->num_attention_heads = kHeads;
  config->num_key_value_heads = kKvHeads;
  config->head_dim = kHeadDim;
  std::mt19937 rng(5);
  std::normal_distribution<double> normal(0.0, 0.03);
  auto random = [&](int64_t rows, int64_t cols) {
    MatD m(rows, cols);
    for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
    return m;
  };
  GqaLayer original;
  original.wq = random(kHeads * kHeadDim, kWidth);
  original.wk = random(kKvHeads * kHeadDim, kWidth);
  original.wv = random(kKvHeads * kHeadDim, kWidth);
  MlaLayer candidate;
  candidate.q_proj = random(kHeads * (kNope + kRope), kWidth);
  candidate.kv_a = random(kRank + kRope, kWidth);
  MlaShape shape;
  shape.heads = kHeads;
  shape.kv_lora_rank = kRank;
  shape.qk_nope_head_dim = kNope;
  shape.qk_rope_head_dim = kRope;
  shape.v_head_dim = kHeadDim;
  std::vector<double> frequencies(kRope / 2);
  for (size_t i = 0; i < frequencies.size(); ++i) frequencies[i] = std::pow(10000.0, -2.0 * i / kRope);

  cpu::Mat normed(300, kWidth);
  for (int64_t i = 0; i < normed.size(); ++i) normed.data()[i] = static_cast<float>(normal(rng) * 30);
  const std::vector<cpu::SequenceSlice> sequences = {
      {nullptr, 0, 140, 0}, {nullptr, 140, 97, 0}, {nullptr, 237, 63, 0}};
  auto prepare = [&](int threads) {
    omp_set_num_threads(threads);
    return PrepareValueRefit(*config, original, shape, frequencies, normed, sequences, candidate);
  };
  const int threads = omp_get_max_threads();
  const RefitInputs one = prepare(1), three = prepare(3);
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

}  // namespace
}  // namespace transmla::convert
