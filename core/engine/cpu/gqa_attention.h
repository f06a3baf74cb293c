#ifndef TRANSMLA_CORE_ENGINE_CPU_GQA_ATTENTION_H_
#define TRANSMLA_CORE_ENGINE_CPU_GQA_ATTENTION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/cpu/attention.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"

namespace transmla::cpu {

// Llama-family attention (MHA or GQA, optional q/k/v biases, rotate-half RoPE). The cache row of
// a position holds its n_kv*head_dim key values (after RoPE) followed by its value values.
class GqaAttention : public Attention {
 public:
  // Loads `prefix`q_proj/k_proj/v_proj/o_proj (+ biases when config.attention_bias).
  static absl::StatusOr<std::unique_ptr<GqaAttention>> Load(const ModelConfig& config, const TensorStore& store,
                                                            const std::string& prefix);

  int64_t values_per_token() const override { return 2 * kv_dim_; }
  int64_t num_parameters() const override;
  void Forward(int64_t layer, const Mat& normed, absl::Span<const SequenceSlice> slices, Mat* out) const override;

 private:
  GqaAttention(const ModelConfig& config);

  int64_t heads_, kv_heads_, head_dim_, kv_dim_;
  std::vector<float> inv_freq_;
  float rope_scaling_;
  Mat wq_, wk_, wv_, wo_;
  std::optional<Vec> bq_, bk_, bv_;
};

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_GQA_ATTENTION_H_
