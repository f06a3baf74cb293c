#include "core/convert/joint_pca.h"

#include <cmath>

#include "core/convert/symmetric_eigen.h"

namespace transmla::convert {
namespace {

// Symmetric square root and inverse square root of a PSD matrix (eigenvalues floored relative to
// the largest so the inverse stays finite).
void PsdSqrt(const MatD& c, MatD* root, MatD* inv_root) {
  const SymmetricEigen eig = DecomposeSymmetric(c);
  const Eigen::VectorXd ev = eig.values.cwiseMax(std::max(eig.values.maxCoeff(), 1e-300) * 1e-12);
  *root = eig.vectors * ev.cwiseSqrt().asDiagonal() * eig.vectors.transpose();
  *inv_root = eig.vectors * ev.cwiseSqrt().cwiseInverse().asDiagonal() * eig.vectors.transpose();
}

double Energy(const MatD& rows, const InputMoment& m) {
  if (m.diagonal) return (rows.array().square().rowwise() * m.moment.diagonal().transpose().array()).sum();
  return (rows * m.moment * rows.transpose()).trace();
}

}  // namespace

MatD Sandwich(const MatD& w, const InputMoment& m) {
  if (m.diagonal) return (w * m.moment.diagonal().asDiagonal()) * w.transpose();
  return w * m.moment * w.transpose();
}

JointPcaResult JointPca(const MatD& keys, const MatD& values, const InputMoment& input, const MatD& query_moment,
                        int64_t rank, BalanceKind balance, double alpha) {
  const int64_t nk = keys.rows();
  const InputMoment& cx = input;
  MatD key_weight = MatD::Identity(nk, nk);
  MatD key_unweight = MatD::Identity(nk, nk);
  double scale = 1.0;
  if (nk > 0) {
    if (balance == BalanceKind::kQueryWhitened) {
      PsdSqrt(query_moment, &key_weight, &key_unweight);
      const MatD weighted = key_weight * keys;
      scale = alpha * std::sqrt(Energy(values, cx) / std::max(Energy(weighted, cx), 1e-300));
    } else {
      const double key_norm = Sandwich(keys, cx).diagonal().cwiseMax(0).cwiseSqrt().mean();
      const double value_norm = Sandwich(values, cx).diagonal().cwiseMax(0).cwiseSqrt().mean();
      scale = alpha * value_norm / std::max(key_norm, 1e-300);
    }
  }
  MatD joint(nk + values.rows(), keys.cols());
  joint.topRows(nk) = scale * key_weight * keys;
  joint.bottomRows(values.rows()) = values;

  const SymmetricEigen eig = DecomposeSymmetric(Sandwich(joint, cx));
  const MatD top = eig.vectors.rightCols(rank).rowwise().reverse();  // largest first
  JointPcaResult r;
  r.latent = top.transpose() * joint;
  r.key_up = key_unweight * top.topRows(nk) / scale;
  r.value_up = top.bottomRows(values.rows());
  const double total = eig.values.sum();
  r.energy_kept = total > 0 ? eig.values.tail(rank).sum() / total : 1.0;
  if (nk > 0) r.key_relative_error = Energy(keys - r.key_up * r.latent, cx) / std::max(Energy(keys, cx), 1e-300);
  r.value_relative_error = Energy(values - r.value_up * r.latent, cx) / std::max(Energy(values, cx), 1e-300);
  return r;
}

}  // namespace transmla::convert
