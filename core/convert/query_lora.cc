#include "core/convert/query_lora.h"

#include "core/convert/symmetric_eigen.h"

namespace transmla::convert {

double CompressQueries(const InputMoment& input, int64_t rank, MlaLayer* layer) {
  const int64_t d = layer->q_proj.cols();
  MatD q(layer->q_proj.rows(), d + 1);
  q.leftCols(d) = layer->q_proj;
  q.col(d) = layer->q_bias ? *layer->q_bias : VecD::Zero(q.rows());
  const SymmetricEigen eig = DecomposeSymmetric(Sandwich(q, input));
  const MatD top = eig.vectors.rightCols(rank).rowwise().reverse();
  const MatD q_a = top.transpose() * q;
  layer->q_a = q_a.leftCols(d);
  layer->q_a_bias = q_a.col(d);
  if (layer->q_a_bias->isZero(0.0)) layer->q_a_bias.reset();
  layer->q_a_norm = VecD::Ones(rank);
  layer->q_b = top;
  layer->q_proj.resize(0, 0);
  layer->q_bias.reset();
  const double total = eig.values.sum();
  return total > 0 ? eig.values.tail(rank).sum() / total : 1.0;
}

}  // namespace transmla::convert
