#include "core/convert/joint_pca.h"

#include <cmath>
#include <utility>

#include "core/convert/symmetric_eigen.h"

namespace transmla::convert {
namespace {

// Symmetric square root and inverse square root of a PSD matrix (eigenvalues floored relative to
// the largest so the inverse stays finite).
void PsdSqrt(const MatD& c, BlockRunner* device, MatD* root, MatD* inv_root) {
  const SymmetricEigen eig = DecomposeSymmetric(c, device);
  const Eigen::VectorXd ev = eig.values.cwiseMax(std::max(eig.values.maxCoeff(), 1e-300) * 1e-12);
  *root = eig.vectors * ev.cwiseSqrt().asDiagonal() * eig.vectors.transpose();
  *inv_root = eig.vectors * ev.cwiseSqrt().cwiseInverse().asDiagonal() * eig.vectors.transpose();
}

// E|x - up L x|^2 for x = rows_in x under the moment: tr(XX) - 2 tr(up LX) + tr(up LL up^T), given
// XX = rows C rows^T, LX = L C rows^T and LL = L C L^T.
double ResidualEnergy(const MatD& xx, const MatD& up, const MatD& lx, const MatD& ll) {
  return xx.trace() - 2.0 * (up.array() * lx.transpose().array()).sum() + (up * ll * up.transpose()).trace();
}

}  // namespace

MatD TimesMoment(const MatD& w, const InputMoment& m) {
  if (m.diagonal) return w * m.moment.diagonal().asDiagonal();
  return w * m.moment;
}

MatD Sandwich(const MatD& w, const InputMoment& m) { return TimesMoment(w, m) * w.transpose(); }

KeyValueMoments KeyValueMomentsOf(const MatD& keys, const MatD& values, const InputMoment& input) {
  const MatD keys_c = TimesMoment(keys, input);
  return {keys_c * keys.transpose(), keys_c * values.transpose(), Sandwich(values, input)};
}

JointPca::JointPca(const MatD& keys, const MatD& values, KeyValueMoments moments, const MatD& query_moment,
                   BalanceKind balance, BlockRunner* device)
    : values_(values), device_(device) {
  const int64_t nk = keys.rows();
  kk_ = std::move(moments.kk);
  kv_ = std::move(moments.kv);
  vv_ = std::move(moments.vv);
  MatD key_weight = MatD::Identity(nk, nk);
  key_unweight_ = MatD::Identity(nk, nk);
  const bool whitened = nk > 0 && balance == BalanceKind::kQueryWhitened;
  if (whitened) PsdSqrt(query_moment, device_, &key_weight, &key_unweight_);
  weighted_keys_ = key_weight * keys;
  wkk_ = key_weight * kk_;
  wkkw_ = wkk_ * key_weight.transpose();
  wkv_ = key_weight * kv_;
  if (nk == 0) return;
  if (whitened) {
    numerator_ = std::sqrt(vv_.trace() / std::max(wkkw_.trace(), 1e-300));
  } else {
    numerator_ = vv_.diagonal().cwiseMax(0).cwiseSqrt().mean();
    denominator_ = std::max(kk_.diagonal().cwiseMax(0).cwiseSqrt().mean(), 1e-300);
  }
}

JointPcaResult JointPca::Compute(int64_t rank, double alpha) const {
  const int64_t nk = weighted_keys_.rows(), nv = values_.rows();
  const double scale = nk > 0 ? alpha * numerator_ / denominator_ : 1.0;
  // The joint moment of [scale Kw; V] from the blocks.
  MatD joint_moment(nk + nv, nk + nv);
  joint_moment.topLeftCorner(nk, nk) = scale * scale * wkkw_;
  joint_moment.topRightCorner(nk, nv) = scale * wkv_;
  joint_moment.bottomLeftCorner(nv, nk) = scale * wkv_.transpose();
  joint_moment.bottomRightCorner(nv, nv) = vv_;

  const SymmetricEigen eig = DecomposeSymmetric(joint_moment, device_);
  const MatD top = eig.vectors.rightCols(rank).rowwise().reverse();  // largest first
  const MatD top_keys = top.topRows(nk), top_values = top.bottomRows(nv);
  JointPcaResult r;
  r.latent = scale * top_keys.transpose() * weighted_keys_ + top_values.transpose() * values_;
  r.key_up = key_unweight_ * top_keys / scale;
  r.value_up = top_values;
  const double total = eig.values.sum();
  r.energy_kept = total > 0 ? eig.values.tail(rank).sum() / total : 1.0;
  // Moments of the latent L = top^T [scale Kw; V]: L C L^T (the top eigenvalues, since top holds
  // eigenvectors of the joint moment), L C K^T and L C V^T.
  const MatD ll = eig.values.tail(rank).reverse().asDiagonal();
  const MatD lk = scale * top_keys.transpose() * wkk_ + top_values.transpose() * kv_.transpose();
  const MatD lv = scale * top_keys.transpose() * wkv_ + top_values.transpose() * vv_;
  if (nk > 0) r.key_relative_error = ResidualEnergy(kk_, r.key_up, lk, ll) / std::max(kk_.trace(), 1e-300);
  r.value_relative_error = ResidualEnergy(vv_, r.value_up, lv, ll) / std::max(vv_.trace(), 1e-300);
  return r;
}

std::vector<JointPcaResult> JointPca::ComputeEach(int64_t rank, const std::vector<double>& alphas) const {
  std::vector<JointPcaResult> results(alphas.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < alphas.size(); ++i) results[i] = Compute(rank, alphas[i]);
  return results;
}

}  // namespace transmla::convert
