#ifndef TRANSMLA_CORE_ENGINE_CPU_DECODER_LAYER_H_
#define TRANSMLA_CORE_ENGINE_CPU_DECODER_LAYER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/engine/cpu/attention.h"
#include "core/engine/cpu/mlp_weights.h"
#include "core/io/hf_config.h"
#include "core/io/tensor_store.h"

namespace transmla::cpu {

// One pre-norm decoder block: x += Attention(RMSNorm(x)); x += MLP(RMSNorm(x)) with a SwiGLU MLP.
// The attention is the architecture's (GQA for llama/mistral/qwen2, MLA for deepseek_v3).
class DecoderLayer {
 public:
  // Loads block `index` (model.layers.<index>.*) from `store`; its MLP through `mlp_cache` if set.
  static absl::StatusOr<std::unique_ptr<DecoderLayer>> Load(const ModelConfig& config, const TensorStore& store,
                                                            int64_t index, bool absorbed_mla,
                                                            MlpCache* mlp_cache = nullptr);

  // Runs the block on `hidden` ([tokens x hidden_size]) in place, reading and writing the caches'
  // rows of layer `cache_layer`. When `attention_input` is set it receives the normed attention
  // input (what calibration measures).
  void Forward(int64_t cache_layer, absl::Span<const SequenceSlice> slices, Mat* hidden,
               Mat* attention_input = nullptr) const;

  int64_t values_per_token() const { return attention_->values_per_token(); }
  int64_t num_parameters() const;

 private:
  DecoderLayer() = default;

  float eps_ = 1e-6f;
  Vec attn_norm_;
  std::unique_ptr<Attention> attention_;
  Vec mlp_norm_;
  std::shared_ptr<const MlpWeights> mlp_;
};

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_DECODER_LAYER_H_
