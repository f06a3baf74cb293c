#include "core/convert/rorope.h"

#include <algorithm>
#include <complex>

#include "Eigen/Eigenvalues"
#include "Eigen/LU"

namespace transmla::convert {

namespace {

// The (component, frequency) slots of one band, in the order its components fill them, strongest
// first: the band's RoPE slots, then the rest by component.
std::vector<RopeSlot> BandSlots(int64_t band_first, int64_t freqfold, int64_t kv_heads,
                                const std::vector<RopeSlot>& rope_slots) {
  std::vector<RopeSlot> order;
  auto in_band = [&](const RopeSlot& s) { return s.frequency >= band_first && s.frequency < band_first + freqfold; };
  for (const RopeSlot& s : rope_slots) {
    if (in_band(s)) order.push_back(s);
  }
  for (int64_t c = 0; c < kv_heads; ++c) {
    for (int64_t f = band_first; f < band_first + freqfold; ++f) {
      const bool taken = std::any_of(order.begin(), order.end(),
                                     [&](const RopeSlot& s) { return s.component == c && s.frequency == f; });
      if (!taken) order.push_back({c, f});
    }
  }
  return order;
}

}  // namespace

Rotation ComputeRotation(const MatD& ck, int64_t kv_heads, int64_t head_dim, const RotationOptions& options,
                         const MatD& query_energy) {
  const int64_t half = head_dim / 2;
  const int64_t latent = kv_heads * head_dim;
  const int64_t ff = options.freqfold;
  const int64_t n = kv_heads * ff;  // complex coordinates of a band: (head k, frequency offset j) at k*ff + j
  Rotation rot;
  rot.key_map = MatD::Zero(latent, latent);
  rot.energy.assign(static_cast<size_t>(kv_heads), std::vector<double>(static_cast<size_t>(half)));
  auto real_row = [&](int64_t u, int64_t band_first) { return (u / ff) * head_dim + band_first + u % ff; };
  for (int64_t band_first = 0; band_first < half; band_first += ff) {
    // H[u][v] = E[z_u conj(z_v)] with z = re + i im, re at row k*d_h + f, im at k*d_h + half + f.
    Eigen::MatrixXcd h(n, n);
    for (int64_t u = 0; u < n; ++u) {
      for (int64_t v = 0; v < n; ++v) {
        const int64_t ru = real_row(u, band_first), iu = ru + half, rv = real_row(v, band_first), iv = rv + half;
        const double re = ck(ru, rv) + ck(iu, iv);
        const double im = options.kind != RotationKind::kReal ? ck(iu, rv) - ck(ru, iv) : 0.0;
        h(u, v) = {re, im};
      }
    }
    Eigen::VectorXd weight = Eigen::VectorXd::Ones(n);
    if (options.kind == RotationKind::kHermitianQueryWeighted) {
      for (int64_t u = 0; u < n; ++u) weight(u) = std::sqrt(std::max(query_energy(u / ff, band_first + u % ff), 1e-300));
      h = weight.asDiagonal() * h * weight.asDiagonal();
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> eig(h);
    const std::vector<RopeSlot> slots = BandSlots(band_first, ff, kv_heads, options.rope_slots);
    for (int64_t c = 0; c < n; ++c) {
      const int64_t component = n - 1 - c;  // Eigen sorts ascending; the strongest fills the first slot
      const RopeSlot& slot = slots[c];
      rot.energy[slot.component][slot.frequency] = eig.eigenvalues()(component);
      const int64_t yr = slot.component * head_dim + slot.frequency, yi = yr + half;
      for (int64_t u = 0; u < n; ++u) {
        const std::complex<double> t = std::conj(eig.eigenvectors()(u, component)) * weight(u);  // T = V^H W
        const int64_t zr = real_row(u, band_first), zi = zr + half;
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
