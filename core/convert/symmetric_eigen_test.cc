#include "core/convert/symmetric_eigen.h"

#include "Eigen/Eigenvalues"
#include "gtest/gtest.h"

namespace transmla::convert {
namespace {

TEST(SymmetricEigenTest, DecomposesACovarianceLikeEigenDoes) {
  const MatD x = MatD::Random(300, 120);
  const MatD a = x.transpose() * x;  // PSD, some eigenvalues close together
  const SymmetricEigen eig = DecomposeSymmetric(a);
  ASSERT_EQ(eig.values.size(), 120);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> reference(a);
  EXPECT_LT((eig.values - reference.eigenvalues()).cwiseAbs().maxCoeff(), 1e-9 * reference.eigenvalues().maxCoeff());
  for (int i = 1; i < 120; ++i) EXPECT_LE(eig.values(i - 1), eig.values(i));  // ascending
  EXPECT_LT((Eigen::MatrixXd(a) * eig.vectors - eig.vectors * eig.values.asDiagonal()).norm(), 1e-9 * a.norm());
  EXPECT_LT((eig.vectors.transpose() * eig.vectors - Eigen::MatrixXd::Identity(120, 120)).norm(), 1e-10);
}

TEST(SymmetricEigenTest, HandlesEmptyAndOneByOne) {
  EXPECT_EQ(DecomposeSymmetric(MatD(0, 0)).values.size(), 0);
  const SymmetricEigen one = DecomposeSymmetric(MatD::Constant(1, 1, 4.0));
  EXPECT_DOUBLE_EQ(one.values(0), 4.0);
  EXPECT_DOUBLE_EQ(std::abs(one.vectors(0, 0)), 1.0);
}

}  // namespace
}  // namespace transmla::convert
