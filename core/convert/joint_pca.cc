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

JointPca::JointPca(const MatD& keys, const MatD& values, const InputMoment& input, const MatD& query_moment,
                   BalanceKind balance)
    : keys_(keys), values_(values), input_(input) {
  const int64_t nk = keys.rows();
  if (nk > 0) key_energy_ = Energy(keys, input);
  value_energy_ = Energy(values, input);
  key_weight_ = MatD::Identity(nk, nk);
  key_unweight_ = MatD::Identity(nk, nk);
  if (nk == 0) return;
  if (balance == BalanceKind::kQueryWhitened) {
    whitened_ = true;
    PsdSqrt(query_moment, &key_weight_, &key_unweight_);
    const MatD weighted = key_weight_ * keys;
    numerator_ = std::sqrt(Energy(values, input) / std::max(Energy(weighted, input), 1e-300));
  } else {
    numerator_ = Sandwich(values, input).diagonal().cwiseMax(0).cwiseSqrt().mean();
    denominator_ = std::max(Sandwich(keys, input).diagonal().cwiseMax(0).cwiseSqrt().mean(), 1e-300);
  }
}

JointPcaResult JointPca::Compute(int64_t rank, double alpha) const {
  const int64_t nk = keys_.rows();
  const InputMoment& cx = input_;
  double scale = 1.0;
  if (nk > 0) scale = whitened_ ? alpha * numerator_ : alpha * numerator_ / denominator_;
  MatD joint(nk + values_.rows(), keys_.cols());
  joint.topRows(nk) = scale * key_weight_ * keys_;
  joint.bottomRows(values_.rows()) = values_;

  const SymmetricEigen eig = DecomposeSymmetric(Sandwich(joint, cx));
  const MatD top = eig.vectors.rightCols(rank).rowwise().reverse();  // largest first
  JointPcaResult r;
  r.latent = top.transpose() * joint;
  r.key_up = key_unweight_ * top.topRows(nk) / scale;
  r.value_up = top.bottomRows(values_.rows());
  const double total = eig.values.sum();
  r.energy_kept = total > 0 ? eig.values.tail(rank).sum() / total : 1.0;
  if (nk > 0) r.key_relative_error = Energy(keys_ - r.key_up * r.latent, cx) / std::max(key_energy_, 1e-300);
  r.value_relative_error = Energy(values_ - r.value_up * r.latent, cx) / std::max(value_energy_, 1e-300);
  return r;
}

}  // namespace transmla::convert
