#include "core/convert/exact.h"

#include <cmath>

#include "Eigen/SVD"
#include "core/engine/rope.h"

namespace transmla::convert {

MlaShape ExactShape(const ModelConfig& source) {
  const int64_t latent = source.num_key_value_heads * source.head_dim;
  return {source.num_attention_heads, 0, latent, 0, latent, source.head_dim};
}

std::vector<double> ExactRopeFrequencies(const ModelConfig& source) {
  const std::vector<float> inv_freq = RopeInverseFrequencies(source, source.head_dim);
  std::vector<double> frequencies;
  for (int64_t g = 0; g < source.num_key_value_heads; ++g) {
    frequencies.insert(frequencies.end(), inv_freq.begin(), inv_freq.end());
  }
  return frequencies;
}

MlaLayer ConvertExact(const ModelConfig& source, const GqaLayer& layer) {
  const int64_t n_h = source.num_attention_heads;
  const int64_t n_kv = source.num_key_value_heads;
  const int64_t d_h = source.head_dim;
  const int64_t half = d_h / 2;
  const int64_t latent = n_kv * d_h;
  const int64_t d = source.hidden_size;
  const int64_t group = n_h / n_kv;
  // Row of the rotate-half head layout that lands at interleaved slot `j` of a head's k_pe block.
  const auto hf_row = [half](int64_t j) { return j % 2 == 0 ? j / 2 : j / 2 + half; };

  MlaLayer out;
  const double q_scale = std::sqrt(static_cast<double>(latent) / static_cast<double>(d_h));
  out.q_proj = MatD::Zero(n_h * latent, d);
  for (int64_t h = 0; h < n_h; ++h) {
    const int64_t g = h / group;
    for (int64_t j = 0; j < d_h; ++j) {
      out.q_proj.row(h * latent + g * d_h + j) = layer.wq.row(h * d_h + hf_row(j)) * q_scale;
    }
  }
  if (layer.bq) {
    out.q_bias = VecD::Zero(n_h * latent);
    for (int64_t h = 0; h < n_h; ++h) {
      const int64_t g = h / group;
      for (int64_t j = 0; j < d_h; ++j) (*out.q_bias)(h * latent + g * d_h + j) = (*layer.bq)(h * d_h + hf_row(j)) * q_scale;
    }
  }

  // Balanced latent basis: Wv = U S V^T, latent c' = S^1/2 U^T c, up-projection E_g U S^-1/2.
  Eigen::BDCSVD<Eigen::MatrixXd> svd(Eigen::MatrixXd(layer.wv), Eigen::ComputeThinU | Eigen::ComputeThinV);
  const VecD s = svd.singularValues().cwiseMax(svd.singularValues()(0) * 1e-12);
  const MatD to_latent = s.cwiseSqrt().asDiagonal() * svd.matrixU().transpose();
  const MatD from_latent = svd.matrixU() * s.cwiseSqrt().cwiseInverse().asDiagonal();

  out.kv_a.resize(2 * latent, d);
  out.kv_a.topRows(latent) = to_latent * layer.wv;
  for (int64_t g = 0; g < n_kv; ++g) {
    for (int64_t j = 0; j < d_h; ++j) out.kv_a.row(latent + g * d_h + j) = layer.wk.row(g * d_h + hf_row(j));
  }
  if (layer.bk || layer.bv) {
    out.kv_a_bias = VecD::Zero(2 * latent);
    if (layer.bv) out.kv_a_bias->head(latent) = to_latent * *layer.bv;
    if (layer.bk) {
      for (int64_t g = 0; g < n_kv; ++g) {
        for (int64_t j = 0; j < d_h; ++j) (*out.kv_a_bias)(latent + g * d_h + j) = (*layer.bk)(g * d_h + hf_row(j));
      }
    }
  }
  out.kv_a_norm = VecD::Ones(latent);
  out.kv_b.resize(n_h * d_h, latent);
  for (int64_t h = 0; h < n_h; ++h) out.kv_b.middleRows(h * d_h, d_h) = from_latent.middleRows((h / group) * d_h, d_h);
  out.o_proj = layer.wo;
  return out;
}

}  // namespace transmla::convert
