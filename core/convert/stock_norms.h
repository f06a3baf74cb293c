#ifndef TRANSMLA_CORE_CONVERT_STOCK_NORMS_H_
#define TRANSMLA_CORE_CONVERT_STOCK_NORMS_H_

#include "core/convert/mla_layer.h"

namespace transmla::convert {

// Stock DeepSeek-V3 normalises the latent (kv_a_layernorm, an RMSNorm) where the converted function
// has none. Scaling the latent rows of kv_a by a tiny t puts mean(c^2) t^2 far below eps, where
// RMSNorm(c t) = c t / sqrt(eps) to first order; the norm weight sqrt(eps) / t then restores c.
// The relative deviation for a token is 1 - 1/sqrt(1 + mean(c^2) t^2 / eps).

// An upper bound of mean(c^2) over every possible token for c = W x + b: the input is
// RMSNorm(h) * gamma, whose norm is at most sqrt(d) * max|gamma|, so
// |c| <= sigma_max(W) sqrt(d) max|gamma| + |b|.
double LatentMeanSquareBound(const MatD& rows, const std::optional<VecD>& bias, const VecD& input_norm_weight);

// The largest t whose worst-token deviation stays below `max_deviation` given `mean_square_bound`.
double ChooseLatentScale(double mean_square_bound, double eps, double max_deviation);

// The worst-token relative deviation of the folded norm for scale t.
double LatentNormDeviation(double mean_square_bound, double eps, double t);

// Applies the fold to one normed projection: its rows and bias times t, the norm weight sqrt(eps)/t.
void FoldRmsNorm(double t, double eps, Eigen::Ref<MatD> rows, std::optional<VecD>* bias, VecD* norm_weight);

// Stock DeepSeek's q_proj has no bias. A query bias becomes a q_lora path of rank d + 1:
// q_a = [t I; 0] with bias [0; t] (a constant channel), q_a_layernorm with the same fold as the
// latent, q_b = [W_q | b_q]. Exact up to the fold's deviation.
void FoldQueryBias(const VecD& input_norm_weight, double eps, double max_deviation, MlaLayer* layer);

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_STOCK_NORMS_H_
