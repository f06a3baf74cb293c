#ifndef TRANSMLA_CORE_CONVERT_JOINT_PCA_H_
#define TRANSMLA_CORE_CONVERT_JOINT_PCA_H_

#include <cstdint>
#include <vector>

#include "core/convert/mla_layer.h"
#include "core/engine/block_runner.h"

namespace transmla::convert {

// How key-NoPE rows are weighted against value rows before the joint PCA.
enum class BalanceKind {
  kQueryWhitened,  // K_nope times Cq^1/2 (the queries' second moment on the NoPE dims), then scaled
                   // to alpha * sqrt(tr V / tr K): the PCA minimises the q.k error, not key energy
  kTransMla,       // TransMLA's BKV: K_nope scaled so mean row norms match V's (alpha times that)
};

// Second-order statistics of a layer's attention input x (after its RMSNorm) over calibration
// tokens, augmented with a constant 1 so that biases compress with the weights:
// moment = sum [x; 1][x; 1]^T ([d+1 x d+1]).
struct InputMoment {
  MatD moment;
  int64_t tokens = 0;
  bool diagonal = false;  // only the diagonal is non-zero (the data-free prior): products get cheap
};

// W * moment: the left half of a sandwich, for reuse where W's rows meet several right-hand sides.
MatD TimesMoment(const MatD& w, const InputMoment& m);
// W * moment * W^T.
MatD Sandwich(const MatD& w, const InputMoment& m);

// What a JointPca starts from: K C K^T, K C V^T and V C V^T under the input moment C.
struct KeyValueMoments {
  MatD kk, kv, vv;
};
KeyValueMoments KeyValueMomentsOf(const MatD& keys, const MatD& values, const InputMoment& input);

// The compressed latent: c = A [x; 1], k_nope ~= key_up c, v ~= value_up c.
struct JointPcaResult {
  MatD latent;    // A: [rank x d+1] (last column: bias)
  MatD key_up;    // [n_nope x rank]
  MatD value_up;  // [n_v x rank]
  double energy_kept = 0;        // fraction of the balanced [K; V] energy in the top `rank` components
  double key_relative_error = 0;    // E|k - k^|^2 / E|k|^2 over the calibration moment (unweighted)
  double value_relative_error = 0;  // same for values
};

// Joint PCA of [K_nope; V] (rows of the augmented maps `keys` [n_nope x d+1] and `values`
// [n_v x d+1]) under the input moment, for any balance multiplier alpha, from the keys' and values'
// second moments and their cross moment (`moments`); each alpha assembles the joint moment and
// measures its errors from them, without another pass over the d+1 input dims.
// `query_moment` (Cq on the NoPE dims) is used by kQueryWhitened and ignored by kTransMla. Keeps
// a reference to `values`. Eigendecompositions run on `device` where it has them (see
// DecomposeSymmetric).
class JointPca {
 public:
  JointPca(const MatD& keys, const MatD& values, KeyValueMoments moments, const MatD& query_moment,
           BalanceKind balance, BlockRunner* device = nullptr);
  JointPcaResult Compute(int64_t rank, double alpha) const;
  // Compute for each alpha, the alphas in parallel (each on one thread).
  std::vector<JointPcaResult> ComputeEach(int64_t rank, const std::vector<double>& alphas) const;

 private:
  const MatD& values_;
  BlockRunner* device_;
  MatD weighted_keys_;             // key_weight K
  MatD key_unweight_;
  MatD kk_, kv_, vv_;              // K C K^T, K C V^T, V C V^T
  MatD wkk_, wkkw_, wkv_;          // Kw C K^T, Kw C Kw^T, Kw C V^T
  // The keys' scale is alpha * numerator / denominator (1 without keys).
  double numerator_ = 1.0, denominator_ = 1.0;
};

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_JOINT_PCA_H_
