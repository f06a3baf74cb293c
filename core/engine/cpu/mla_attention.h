#ifndef TRANSMLA_CORE_ENGINE_CPU_MLA_ATTENTION_H_
#define TRANSMLA_CORE_ENGINE_CPU_MLA_ATTENTION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/cpu/attention.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"

namespace transmla::cpu {

// DeepSeek-V3 multi-head latent attention, as transformers' DeepseekV3Attention computes it
// (q_proj or q_a/q_b with its RMSNorm, kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, interleaved
// RoPE on the rope dims, softmax scale 1/sqrt(qk_nope + qk_rope)). The cache row of a position is
// its normalised latent (kv_lora_rank values) followed by its RoPE'd shared key (qk_rope values).
//
// Absorbed mode folds each head's key up-projection into its query and applies the value
// up-projection after attention, so the latent is never expanded; naive mode expands the cached
// latent into per-head keys and values. Both compute the same function.
class MlaAttention : public Attention {
 public:
  static absl::StatusOr<std::unique_ptr<MlaAttention>> Load(const ModelConfig& config, const TensorStore& store,
                                                            const std::string& prefix, bool absorbed);

  int64_t values_per_token() const override { return rank_ + rope_; }
  int64_t num_parameters() const override;
  void Forward(int64_t layer, const Mat& normed, absl::Span<const SequenceSlice> slices, Mat* out) const override;

 private:
  explicit MlaAttention(const ModelConfig& config, bool absorbed);
  void Queries(const Mat& normed, Mat* q) const;
  void AttendAbsorbed(const SequenceSlice& s, int64_t layer, const Mat& q, Mat* attended) const;
  void AttendNaive(const SequenceSlice& s, int64_t layer, const Mat& q, Mat* attended) const;

  bool absorbed_;
  int64_t heads_, rank_, nope_, rope_, v_dim_, q_lora_rank_;
  float kv_norm_eps_, scale_;
  std::vector<float> inv_freq_;
  float rope_scaling_;
  Mat q_proj_, q_a_, q_b_;
  Vec q_a_norm_;
  std::optional<Vec> q_a_bias_, kv_a_bias_, o_bias_;
  Mat kv_a_;
  Vec kv_a_norm_;
  Mat kv_b_;
  Mat o_proj_;
};

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_MLA_ATTENTION_H_
