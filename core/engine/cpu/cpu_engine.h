#ifndef TRANSMLA_CORE_ENGINE_CPU_CPU_ENGINE_H_
#define TRANSMLA_CORE_ENGINE_CPU_CPU_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/cpu/attention.h"
#include "core/engine/cpu/decoder_layer.h"
#include "core/engine/cpu/kv_cache.h"
#include "core/engine/engine.h"
#include "core/io/tensor_store.h"

namespace transmla::cpu {

// The decoder stack on the CPU in float32 (weights of any float dtype are widened on load):
// embeddings, per layer RMSNorm + attention + RMSNorm + SwiGLU MLP, final norm, LM head. The
// attention block is the architecture's (GQA for llama/mistral/qwen2, MLA for deepseek_v3).
class CpuEngine : public Engine {
 public:
  // Builds the engine for `config` from HF-named tensors. `max_kv_bytes` 0 means unlimited;
  // `threads` 0 means all cores.
  static absl::StatusOr<std::unique_ptr<CpuEngine>> Create(const ModelConfig& config, const TensorStore& store,
                                                           int64_t max_kv_bytes, bool absorbed_mla, int threads = 0);

  const ModelConfig& config() const override { return config_; }
  std::string device() const override { return "cpu"; }
  int64_t KvBytesPerToken() const override;
  int64_t NumParameters() const override;
  std::unique_ptr<Sequence> NewSequence() override;
  absl::Status Forward(absl::Span<const ForwardStep> steps, std::vector<std::vector<float>>* logits) override;

  // Bytes of KV cache held by all live sequences.
  int64_t kv_bytes_in_use() const { return budget_->used(); }

 private:
  explicit CpuEngine(const ModelConfig& config, int64_t max_kv_bytes);
  absl::Status ValidateSteps(absl::Span<const ForwardStep> steps) const;

  ModelConfig config_;
  std::shared_ptr<KvBudget> budget_;
  int threads_ = 0;
  Mat embed_;
  std::vector<std::unique_ptr<DecoderLayer>> layers_;
  Vec final_norm_;
  Mat lm_head_;  // empty when tied to embed_
};

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_CPU_ENGINE_H_
