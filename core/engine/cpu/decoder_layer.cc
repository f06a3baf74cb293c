#include "core/engine/cpu/decoder_layer.h"

#include "core/engine/cpu/gqa_attention.h"
#include "core/engine/cpu/mla_attention.h"
#include "core/engine/cpu/weight_loader.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cpu {
namespace {

absl::StatusOr<std::unique_ptr<Attention>> LoadAttention(const ModelConfig& config, const TensorStore& store,
                                                         const std::string& prefix, bool absorbed_mla) {
  switch (config.architecture) {
    case Architecture::kLlama: {
      ASSIGN_OR_RETURN(std::unique_ptr<GqaAttention> a, GqaAttention::Load(config, store, prefix));
      return std::unique_ptr<Attention>(std::move(a));
    }
    case Architecture::kDeepseekV3: {
      ASSIGN_OR_RETURN(std::unique_ptr<MlaAttention> a, MlaAttention::Load(config, store, prefix, absorbed_mla));
      return std::unique_ptr<Attention>(std::move(a));
    }
  }
  return absl::UnimplementedError(fmt::format("no CPU attention for model_type {}", config.model_type));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DecoderLayer>> DecoderLayer::Load(const ModelConfig& config, const TensorStore& store,
                                                                 int64_t index, bool absorbed_mla,
                                                                 MlpCache* mlp_cache) {
  std::unique_ptr<DecoderLayer> layer(new DecoderLayer());
  const int64_t d = config.hidden_size;
  const int64_t ff = config.intermediate_size;
  const std::string p = fmt::format("model.layers.{}.", index);
  layer->eps_ = static_cast<float>(config.rms_norm_eps);
  ASSIGN_OR_RETURN(layer->attn_norm_, LoadVector(store, p + "input_layernorm.weight", d));
  ASSIGN_OR_RETURN(layer->attention_, LoadAttention(config, store, p + "self_attn.", absorbed_mla));
  ASSIGN_OR_RETURN(layer->mlp_norm_, LoadVector(store, p + "post_attention_layernorm.weight", d));
  ASSIGN_OR_RETURN(layer->mlp_, mlp_cache != nullptr ? mlp_cache->Load(store, p, ff, d) : LoadMlp(store, p, ff, d));
  return layer;
}

int64_t DecoderLayer::num_parameters() const {
  return attn_norm_.size() + attention_->num_parameters() + mlp_norm_.size() + mlp_->gate.size() + mlp_->up.size() +
         mlp_->down.size();
}

void DecoderLayer::Forward(int64_t cache_layer, absl::Span<const SequenceSlice> slices, Mat* hidden,
                           Mat* attention_input) const {
  Mat normed, block;
  RmsNorm(*hidden, attn_norm_, eps_, &normed);
  attention_->Forward(cache_layer, normed, slices, &block);
  if (attention_input != nullptr) *attention_input = std::move(normed);
  *hidden += block;

  Mat gate, up;
  RmsNorm(*hidden, mlp_norm_, eps_, &normed);
  Linear(normed, mlp_->gate, nullptr, &gate);
  Linear(normed, mlp_->up, nullptr, &up);
  SiluMul(&gate, up);
  Linear(gate, mlp_->down, nullptr, &block);
  *hidden += block;
}

}  // namespace transmla::cpu
