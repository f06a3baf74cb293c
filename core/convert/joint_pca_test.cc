#include "core/convert/joint_pca.h"

#include "gtest/gtest.h"

namespace transmla::convert {
namespace {

// The balance candidates' decompositions run concurrently (where the eigensolver is Eigen's);
// each must be the one Compute gives alone, for either balance kind.
TEST(JointPcaTest, ComputeEachEqualsComputeForEveryAlpha) {
  constexpr int64_t kInputs = 97, kKeys = 40, kValues = 48, kRank = 24;
  const MatD keys = MatD::Random(kKeys, kInputs + 1), values = MatD::Random(kValues, kInputs + 1);
  const MatD x = MatD::Random(3 * kInputs, kInputs + 1);
  const InputMoment input{x.transpose() * x, 3 * kInputs, false};
  const MatD q = MatD::Random(2 * kKeys, kKeys);
  const std::vector<double> alphas = {0.25, 0.5, 1, 2, 4, 8, 16};
  for (const BalanceKind kind : {BalanceKind::kQueryWhitened, BalanceKind::kTransMla}) {
    const JointPca pca(keys, values, KeyValueMomentsOf(keys, values, input), q.transpose() * q, kind);
    const std::vector<JointPcaResult> each = pca.ComputeEach(kRank, alphas);
    ASSERT_EQ(each.size(), alphas.size());
    for (size_t i = 0; i < alphas.size(); ++i) {
      const JointPcaResult alone = pca.Compute(kRank, alphas[i]);
      EXPECT_LE((each[i].latent - alone.latent).norm(), 1e-10 * alone.latent.norm()) << "alpha " << alphas[i];
      EXPECT_LE((each[i].key_up - alone.key_up).norm(), 1e-10 * alone.key_up.norm()) << "alpha " << alphas[i];
      EXPECT_LE((each[i].value_up - alone.value_up).norm(), 1e-10 * alone.value_up.norm()) << "alpha " << alphas[i];
      EXPECT_DOUBLE_EQ(each[i].energy_kept, alone.energy_kept) << "alpha " << alphas[i];
    }
    // The balance matters: the key share of the latent grows with alpha.
    EXPECT_LT(each.back().key_relative_error, each.front().key_relative_error);
  }
}

}  // namespace
}  // namespace transmla::convert
