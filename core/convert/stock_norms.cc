#include "core/convert/stock_norms.h"

#include <cmath>
#include <optional>

#include "Eigen/Eigenvalues"

namespace transmla::convert {

double LatentMeanSquareBound(const MatD& latent_rows, const std::optional<VecD>& bias, const VecD& input_norm_weight) {
  // sigma_max^2 from the smaller Gram matrix: an eigenvalue problem of size min(rows, cols).
  const Eigen::MatrixXd gram = latent_rows.rows() <= latent_rows.cols()
                                   ? Eigen::MatrixXd(latent_rows * latent_rows.transpose())
                                   : Eigen::MatrixXd(latent_rows.transpose() * latent_rows);
  const double sigma_squared = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram, Eigen::EigenvaluesOnly)
                                   .eigenvalues()
                                   .maxCoeff();
  const double d = static_cast<double>(latent_rows.cols());
  const double gamma = input_norm_weight.cwiseAbs().maxCoeff();
  const double norm = std::sqrt(sigma_squared * d) * gamma + (bias ? bias->norm() : 0.0);
  return norm * norm / static_cast<double>(latent_rows.rows());
}

double ChooseLatentScale(double mean_square_bound, double eps, double max_deviation) {
  // 1 - 1/sqrt(1 + u) <= u/2 for u = ms t^2 / eps >= 0.
  return std::sqrt(2.0 * max_deviation * eps / std::max(mean_square_bound, 1e-30));
}

double LatentNormDeviation(double mean_square_bound, double eps, double t) {
  return 1.0 - 1.0 / std::sqrt(1.0 + mean_square_bound * t * t / eps);
}

void FoldRmsNorm(double t, double eps, Eigen::Ref<MatD> rows, std::optional<VecD>* bias, VecD* norm_weight) {
  rows *= t;
  if (bias->has_value()) (*bias)->head(rows.rows()) *= t;
  *norm_weight *= std::sqrt(eps) / t;
}

void FoldQueryBias(const VecD& input_norm_weight, double eps, double max_deviation, MlaLayer* layer) {
  const int64_t d = layer->q_proj.cols();
  // mean((t x, t)^2) / t^2 = (|x|^2 + 1) / (d + 1) <= max(gamma^2) + 1 for |x|^2 <= d max(gamma^2).
  const double bound = input_norm_weight.cwiseAbs2().maxCoeff() + 1.0;
  const double t = ChooseLatentScale(bound, eps, max_deviation);
  layer->q_a = MatD::Zero(d + 1, d);
  layer->q_a.topRows(d) = MatD::Identity(d, d) * t;
  layer->q_a_bias = VecD::Zero(d + 1);
  (*layer->q_a_bias)(d) = t;
  layer->q_a_norm = VecD::Constant(d + 1, std::sqrt(eps) / t);
  layer->q_b.resize(layer->q_proj.rows(), d + 1);
  layer->q_b.leftCols(d) = layer->q_proj;
  layer->q_b.col(d) = layer->q_bias ? *layer->q_bias : VecD::Zero(layer->q_proj.rows());
  layer->q_proj.resize(0, 0);
  layer->q_bias.reset();
}

}  // namespace transmla::convert
