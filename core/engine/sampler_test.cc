#include "core/engine/sampler.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace transmla {
namespace {

SamplingParams Params(float temperature, int top_k, float top_p, uint64_t seed = 11) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.seed = seed;
  return p;
}

// How often each id comes out of `draws` samples of `logits`.
std::vector<double> Frequencies(const SamplingParams& params, const std::vector<float>& logits, int draws,
                                const std::vector<int32_t>& history = {}) {
  Sampler sampler(params);
  std::vector<double> counts(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) counts[static_cast<size_t>(sampler.Sample(logits, history))] += 1.0 / draws;
  return counts;
}

// Expected shares: the softmax of logits / temperature over `kept` ids, zero elsewhere.
std::vector<double> Softmax(const std::vector<float>& logits, float temperature, const std::vector<int>& kept) {
  std::vector<double> p(logits.size(), 0.0);
  double total = 0;
  for (const int id : kept) total += p[id] = std::exp(logits[id] / temperature);
  for (double& v : p) v /= total;
  return p;
}

// Each share within 5 standard errors of its expectation (and exactly 0 where it must be).
void ExpectShares(const std::vector<double>& got, const std::vector<double>& want, int draws) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == 0.0) {
      EXPECT_EQ(got[i], 0.0) << "id " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], 5 * std::sqrt(want[i] * (1 - want[i]) / draws) + 1e-12) << "id " << i;
    }
  }
}

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f, 2.0f};
constexpr int kDraws = 40000;

TEST(SamplerTest, TemperatureZeroTakesTheFirstMaximum) {
  Sampler sampler(Params(0.0f, 0, 1.0f));
  EXPECT_EQ(sampler.Sample(std::vector<float>{1, 4, 2, 4}, {}), 1);
}

TEST(SamplerTest, SharesFollowTheSoftmaxOfLogitsOverTemperature) {
  for (const float t : {1.0f, 0.5f, 2.0f}) {
    SCOPED_TRACE(t);
    ExpectShares(Frequencies(Params(t, 0, 1.0f), kLogits, kDraws), Softmax(kLogits, t, {0, 1, 2, 3, 4, 5}), kDraws);
  }
}

TEST(SamplerTest, TopKKeepsTheKHighest) {
  ExpectShares(Frequencies(Params(1.0f, 3, 1.0f), kLogits, kDraws), Softmax(kLogits, 1.0f, {1, 2, 5}), kDraws);
}

TEST(SamplerTest, TopPKeepsTheSmallestSetReachingItsMass) {
  // Softmax shares, highest first: id 1 0.459, id 2 0.279, id 5 0.169, id 0 0.062, ...
  ExpectShares(Frequencies(Params(1.0f, 0, 0.6f), kLogits, kDraws), Softmax(kLogits, 1.0f, {1, 2}), kDraws);
  ExpectShares(Frequencies(Params(1.0f, 0, 0.8f), kLogits, kDraws), Softmax(kLogits, 1.0f, {1, 2, 5}), kDraws);
  ExpectShares(Frequencies(Params(1.0f, 2, 0.9f), kLogits, kDraws), Softmax(kLogits, 1.0f, {1, 2}), kDraws);
  // At least one token, however small top_p.
  ExpectShares(Frequencies(Params(1.0f, 0, 1e-6f), kLogits, 100), Softmax(kLogits, 1.0f, {1}), 100);
}

TEST(SamplerTest, TopPOverAFlatVocabularyKeepsTheLowestIdsOfATie) {
  // 5000 equal logits: sorting rounds of 256, 1024 and 4096 fall short of half the mass; the
  // nucleus is ids 0 .. 2499 (ties go to the lower id).
  const std::vector<float> flat(5000, 0.25f);
  Sampler sampler(Params(1.0f, 0, 0.5f));
  int32_t highest = 0;
  for (int i = 0; i < 20000; ++i) highest = std::max(highest, sampler.Sample(flat, {}));
  EXPECT_GE(highest, 2400);
  EXPECT_LE(highest, 2500);
}

TEST(SamplerTest, RepetitionPenaltyLowersSeenTokensOnce) {
  SamplingParams params = Params(1.0f, 0, 1.0f);
  params.repetition_penalty = 2.0f;
  // Token 1 seen twice: its logit 3 becomes 1.5, once; token 3's -1 becomes -2.
  std::vector<float> penalized = kLogits;
  penalized[1] = 1.5f;
  penalized[3] = -2.0f;
  ExpectShares(Frequencies(params, kLogits, kDraws, {1, 3, 1}), Softmax(penalized, 1.0f, {0, 1, 2, 3, 4, 5}), kDraws);
}

TEST(SamplerTest, ASeedFixesTheStream) {
  Sampler a(Params(1.0f, 0, 0.95f, 5)), b(Params(1.0f, 0, 0.95f, 5)), c(Params(1.0f, 0, 0.95f, 6));
  std::vector<int32_t> from_a, from_b, from_c;
  for (int i = 0; i < 64; ++i) {
    from_a.push_back(a.Sample(kLogits, {}));
    from_b.push_back(b.Sample(kLogits, {}));
    from_c.push_back(c.Sample(kLogits, {}));
  }
  EXPECT_EQ(from_a, from_b);
  EXPECT_NE(from_a, from_c);
}

}  // namespace
}  // namespace transmla
