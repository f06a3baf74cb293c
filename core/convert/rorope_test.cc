#include "core/convert/rorope.h"

#include "gtest/gtest.h"

namespace transmla::convert {
namespace {

constexpr int64_t kKvHeads = 3, kHeadDim = 8, kLatent = kKvHeads * kHeadDim;

// A full-rank key covariance with correlated heads and frequencies.
MatD RandomKeyCovariance() {
  std::srand(7);
  const MatD w = MatD::Random(kLatent, 2 * kLatent);
  return w * w.transpose();
}

double RopeEnergy(const Rotation& rot, const std::vector<RopeSlot>& slots) {
  double e = 0;
  for (const RopeSlot& s : slots) e += rot.energy[s.component][s.frequency];
  return e;
}

// Whether key_map sends a frequency of some head into another frequency (rotate-half layout).
bool MixesFrequencies(const MatD& key_map) {
  for (int64_t r = 0; r < kLatent; ++r) {
    for (int64_t c = 0; c < kLatent; ++c) {
      const int64_t fr = r % kHeadDim % (kHeadDim / 2), fc = c % kHeadDim % (kHeadDim / 2);
      if (fr != fc && key_map(r, c) != 0.0) return true;
    }
  }
  return false;
}

TEST(RoRopeTest, UnfoldedRotationIsUnitaryAndKeepsEachFrequencyApart) {
  const std::vector<RopeSlot> slots = SelectRopeSlots(kHeadDim, 4, 1, 1);
  const Rotation rot = ComputeRotation(RandomKeyCovariance(), kKvHeads, kHeadDim, {RotationKind::kHermitian, 1, slots});
  EXPECT_TRUE((rot.key_map * rot.key_map.transpose()).isIdentity(1e-10));
  EXPECT_FALSE(MixesFrequencies(rot.key_map));
}

TEST(RoRopeTest, FreqFoldPutsTheBandsStrongestComponentsInTheRopeSlots) {
  const MatD ck = RandomKeyCovariance();
  const std::vector<RopeSlot> slots = SelectRopeSlots(kHeadDim, 4, 1, 1);
  const Rotation unfolded = ComputeRotation(ck, kKvHeads, kHeadDim, {RotationKind::kHermitian, 1, slots});
  const Rotation folded = ComputeRotation(ck, kKvHeads, kHeadDim, {RotationKind::kHermitian, 2, slots});
  EXPECT_TRUE((folded.key_map * folded.key_map.transpose()).isIdentity(1e-10));
  EXPECT_TRUE(MixesFrequencies(folded.key_map));
  // The top two components of a 6-dim band hold at least the top one of each 3-dim frequency.
  EXPECT_GE(RopeEnergy(folded, slots), RopeEnergy(unfolded, slots) * (1 - 1e-12));
  // Energy is conserved: the eigenvalues sum to the trace.
  double total = 0;
  for (const auto& per_component : folded.energy) {
    for (double e : per_component) total += e;
  }
  EXPECT_NEAR(total, ck.trace(), 1e-9 * ck.trace());
  // Within each band the RoPE slots hold the largest eigenvalues.
  for (int64_t band = 0; band < 2; ++band) {
    double weakest_rope = 1e300, strongest_other = 0;
    for (int64_t c = 0; c < kKvHeads; ++c) {
      for (int64_t f = 2 * band; f < 2 * band + 2; ++f) {
        if (c == 0) {
          weakest_rope = std::min(weakest_rope, folded.energy[c][f]);
        } else {
          strongest_other = std::max(strongest_other, folded.energy[c][f]);
        }
      }
    }
    EXPECT_GE(weakest_rope, strongest_other);
  }
}

}  // namespace
}  // namespace transmla::convert
