#ifndef TRANSMLA_CORE_CONVERT_LAYER_CONVERTER_H_
#define TRANSMLA_CORE_CONVERT_LAYER_CONVERTER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "core/convert/joint_pca.h"
#include "core/convert/mla_layer.h"
#include "core/engine/block_runner.h"
#include "nlohmann/json.hpp"

namespace transmla::convert {

// Turns one source attention block into MLA weights (before the stock-norm folds). One
// implementation per conversion mode; the pipeline around it is shared.
class LayerConverter {
 public:
  virtual ~LayerConverter() = default;
  virtual MlaShape shape() const = 0;
  // RoPE frequency (radians per position) of each k_pe pair, qk_rope_head_dim / 2 values.
  virtual std::vector<double> rope_frequencies() const = 0;
  // The K/V balance multipliers worth trying for a layer (calibration keeps the one whose block
  // output is closest to the original's); one value when there is nothing to choose.
  virtual std::vector<double> balance_candidates() const { return {1.0}; }
  // A source layer made ready for conversion: what its balance candidates share is computed once.
  class Prepared {
   public:
    virtual ~Prepared() = default;
    // The MLA weights for balance multiplier `balance`; adds what it measured (energy kept,
    // errors...) to `report`. The balance moves only kv_a's latent rows and kv_b: a layer's
    // candidates share q_proj, its bias and the k_pe rows (the value refit relies on it).
    virtual absl::StatusOr<MlaLayer> Convert(double balance, nlohmann::json* report) const = 0;
    // Computes ahead, at once, what Convert needs for each of `balances` that it would otherwise
    // compute per call (the deepseek mode's joint PCA: one eigendecomposition each).
    virtual void PrepareBalances(const std::vector<double>& /*balances*/) {}
  };
  // Prepares layer `index` given the second moment of its attention input (calibration tokens, or
  // a weights-only prior). Keeps references to `source` and `moment`. `device` (may be null): where
  // eigendecompositions may run, the calibration's block runner.
  virtual absl::StatusOr<std::unique_ptr<Prepared>> Prepare(int64_t index, const GqaLayer& source,
                                                            const InputMoment& moment, BlockRunner* device) = 0;
};

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_LAYER_CONVERTER_H_
