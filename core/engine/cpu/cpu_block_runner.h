#ifndef TRANSMLA_CORE_ENGINE_CPU_CPU_BLOCK_RUNNER_H_
#define TRANSMLA_CORE_ENGINE_CPU_CPU_BLOCK_RUNNER_H_

#include "core/engine/block_runner.h"
#include "core/engine/cpu/mlp_weights.h"

namespace transmla::cpu {

// Blocks through DecoderLayer in float32 on all cores. The last block's MLP stays converted for the
// next run (MlpCache): a layer's calibration runs all share it.
class CpuBlockRunner : public BlockRunner {
 public:
  absl::StatusOr<Mat> Run(const ModelConfig& config, const TensorStore& block_store, int64_t index, const Mat& hidden,
                          absl::Span<const SequenceSlice> slices) override;
  std::string device() const override { return "cpu"; }

  const MlpCache& mlp_cache() const { return mlp_cache_; }

 private:
  MlpCache mlp_cache_;
};

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_CPU_BLOCK_RUNNER_H_
