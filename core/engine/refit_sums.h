#ifndef TRANSMLA_CORE_ENGINE_REFIT_SUMS_H_
#define TRANSMLA_CORE_ENGINE_REFIT_SUMS_H_

#include <cstdint>
#include <vector>

#include "Eigen/Dense"
#include "core/engine/cpu/ops.h"

namespace transmla {

// The sums behind the value refit of a converted MLA layer (convert/value_refit.h). For each head
// h and each calibration sequence, with c the sequence's latents ([n x rank]), the head's keys
// k = [c W_h^T | k_rope] (W_h: its `nope` key rows of kv_b) against its queries [q_nope | q_rope],
// p the causal softmax of scale * q k^T and m = p c the attention-weighted latents, the sums over
// all sequences of G_h = m^T m ([rank x rank]) and C_h = o_h^T m ([value_dim x rank]) for the
// original block's head outputs o_h ([n x value_dim]).
struct RefitProblem {
  int64_t heads = 0, rank = 0, nope = 0, rope = 0, value_dim = 0;
  float scale = 1.0f;
  const cpu::Mat* kv_b = nullptr;  // [heads * (nope + value_dim) x rank]: head h's key rows first
  // Per sequence: latents [n x rank], queries [n x heads * (nope + rope)] (head h's nope then rope
  // dims), rope keys [n x rope] (shared by the heads), original outputs [n x heads * value_dim].
  std::vector<const cpu::Mat*> latents, queries, rope_keys, outputs;
};

struct RefitSums {
  std::vector<Eigen::MatrixXd> gram, cross;  // per head; gram is symmetric
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_REFIT_SUMS_H_
