#include "core/convert/rorope.h"

#include <algorithm>
#include <complex>
#include <numeric>

#include "Eigen/Eigenvalues"
#include "Eigen/LU"

namespace transmla::convert {

Rotation ComputeRotation(const MatD& ck, int64_t kv_heads, int64_t head_dim, RotationKind kind,
                         const MatD& query_energy) {
  const int64_t half = head_dim / 2;
  const int64_t latent = kv_heads * head_dim;
  Rotation rot;
  rot.key_map = MatD::Zero(latent, latent);
  rot.energy.assign(static_cast<size_t>(kv_heads), std::vector<double>(static_cast<size_t>(half)));
  for (int64_t a = 0; a < half; ++a) {
    // H[j][k] = E[z_j conj(z_k)] with z = re + i im, re at row j*d_h + a, im at j*d_h + half + a.
    Eigen::MatrixXcd h(kv_heads, kv_heads);
    for (int64_t j = 0; j < kv_heads; ++j) {
      for (int64_t k = 0; k < kv_heads; ++k) {
        const int64_t rj = j * head_dim + a, ij = rj + half, rk = k * head_dim + a, ik = rk + half;
        const double re = ck(rj, rk) + ck(ij, ik);
        const double im = kind != RotationKind::kReal ? ck(ij, rk) - ck(rj, ik) : 0.0;
        h(j, k) = {re, im};
      }
    }
    Eigen::VectorXd weight = Eigen::VectorXd::Ones(kv_heads);
    if (kind == RotationKind::kHermitianQueryWeighted) {
      weight = query_energy.col(a).cwiseMax(1e-300).cwiseSqrt();
      h = weight.asDiagonal() * h * weight.asDiagonal();
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> eig(h);
    // Eigen sorts ascending; component 0 must be the largest.
    std::vector<int64_t> order(static_cast<size_t>(kv_heads));
    std::iota(order.begin(), order.end(), 0);
    std::reverse(order.begin(), order.end());
    for (int64_t c = 0; c < kv_heads; ++c) {
      rot.energy[c][a] = eig.eigenvalues()(order[c]);
      for (int64_t j = 0; j < kv_heads; ++j) {
        const std::complex<double> t = std::conj(eig.eigenvectors()(j, order[c])) * weight(j);  // T = V^H W
        const int64_t yr = c * head_dim + a, yi = yr + half, zr = j * head_dim + a, zi = zr + half;
        rot.key_map(yr, zr) = t.real();
        rot.key_map(yr, zi) = -t.imag();
        rot.key_map(yi, zr) = t.imag();
        rot.key_map(yi, zi) = t.real();
      }
    }
  }
  // Unitary unless query-weighted; the general inverse covers both.
  rot.query_map = rot.key_map.inverse().transpose();
  return rot;
}

std::vector<RopeSlot> SelectRopeSlots(int64_t head_dim, int64_t frequencies, int64_t pairs_per_frequency,
                                      int64_t collapse) {
  std::vector<RopeSlot> slots;
  const int64_t half = head_dim / 2;
  const int64_t step = std::max<int64_t>(collapse, 1);
  int64_t taken = 0;
  for (int64_t f = 0; f < half && taken < frequencies; f += step, ++taken) {
    for (int64_t c = 0; c < pairs_per_frequency; ++c) slots.push_back({c, f});
  }
  return slots;
}

}  // namespace transmla::convert
