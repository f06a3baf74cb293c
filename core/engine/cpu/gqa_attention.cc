#include "core/engine/cpu/gqa_attention.h"

#include <cmath>

#include "core/engine/cpu/weight_loader.h"
#include "core/engine/rope.h"
#include "core/util/status_macros.h"

namespace transmla::cpu {

GqaAttention::GqaAttention(const ModelConfig& config)
    : heads_(config.num_attention_heads),
      kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim),
      kv_dim_(config.num_key_value_heads * config.head_dim),
      inv_freq_(RopeInverseFrequencies(config, config.head_dim)),
      rope_scaling_(static_cast<float>(RopeAttentionScaling(config))) {}

absl::StatusOr<std::unique_ptr<GqaAttention>> GqaAttention::Load(const ModelConfig& config, const TensorStore& store,
                                                                 const std::string& prefix) {
  std::unique_ptr<GqaAttention> a(new GqaAttention(config));
  const int64_t d = config.hidden_size;
  const int64_t q_dim = a->heads_ * a->head_dim_;
  ASSIGN_OR_RETURN(a->wq_, LoadMatrix(store, prefix + "q_proj.weight", q_dim, d));
  ASSIGN_OR_RETURN(a->wk_, LoadMatrix(store, prefix + "k_proj.weight", a->kv_dim_, d));
  ASSIGN_OR_RETURN(a->wv_, LoadMatrix(store, prefix + "v_proj.weight", a->kv_dim_, d));
  ASSIGN_OR_RETURN(a->wo_, LoadMatrix(store, prefix + "o_proj.weight", d, q_dim));
  if (config.attention_bias) {
    ASSIGN_OR_RETURN(a->bq_, LoadVector(store, prefix + "q_proj.bias", q_dim));
    ASSIGN_OR_RETURN(a->bk_, LoadVector(store, prefix + "k_proj.bias", a->kv_dim_));
    ASSIGN_OR_RETURN(a->bv_, LoadVector(store, prefix + "v_proj.bias", a->kv_dim_));
  }
  return a;
}

int64_t GqaAttention::num_parameters() const {
  int64_t n = wq_.size() + wk_.size() + wv_.size() + wo_.size();
  if (bq_) n += bq_->size() + bk_->size() + bv_->size();
  return n;
}

void GqaAttention::Forward(int64_t layer, const Mat& normed, absl::Span<const SequenceSlice> slices, Mat* out) const {
  Mat q, k, v;
  Linear(normed, wq_, bq_ ? &*bq_ : nullptr, &q);
  Linear(normed, wk_, bk_ ? &*bk_ : nullptr, &k);
  Linear(normed, wv_, bv_ ? &*bv_ : nullptr, &v);

  // RoPE, then the new keys and values go into the cache.
  const int64_t pairs = head_dim_ / 2;
  for (const SequenceSlice& s : slices) {
#pragma omp parallel for schedule(static) if (s.count > 8)
    for (int64_t i = 0; i < s.count; ++i) {
      std::vector<float> cos(pairs), sin(pairs);
      const int64_t row = s.row_begin + i;
      RopeAngles(s.start_position + i, inv_freq_, rope_scaling_, cos.data(), sin.data());
      ApplyRope(q.row(row).data(), heads_, head_dim_, cos.data(), sin.data(), RopeLayout::kRotateHalf);
      ApplyRope(k.row(row).data(), kv_heads_, head_dim_, cos.data(), sin.data(), RopeLayout::kRotateHalf);
      float* cache_row = s.cache->Row(layer, s.start_position + i);
      std::copy_n(k.row(row).data(), kv_dim_, cache_row);
      std::copy_n(v.row(row).data(), kv_dim_, cache_row + kv_dim_);
    }
  }

  // Causal attention of every new query over its sequence's cache, one (query, head) per task.
  Mat attended(normed.rows(), heads_ * head_dim_);
  const int64_t group = heads_ / kv_heads_;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim_));
  const int64_t row_stride = values_per_token();
  for (const SequenceSlice& s : slices) {
    const float* cache = s.cache->Row(layer, 0);
#pragma omp parallel for collapse(2) schedule(dynamic, 4)
    for (int64_t i = 0; i < s.count; ++i) {
      for (int64_t h = 0; h < heads_; ++h) {
        const int64_t row = s.row_begin + i;
        const int64_t len = s.start_position + i + 1;
        const int64_t kv_head = h / group;
        using StridedRows = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
        const StridedRows keys(cache + kv_head * head_dim_, len, head_dim_, Eigen::OuterStride<>(row_stride));
        const StridedRows values(cache + kv_dim_ + kv_head * head_dim_, len, head_dim_,
                                 Eigen::OuterStride<>(row_stride));
        const Eigen::Map<const Vec> query(q.row(row).data() + h * head_dim_, head_dim_);
        Vec scores = (keys * query) * scale;
        SoftmaxInPlace(scores.data(), len);
        Eigen::Map<Vec>(attended.row(row).data() + h * head_dim_, head_dim_).noalias() = values.transpose() * scores;
      }
    }
  }
  Linear(attended, wo_, nullptr, out);
}

}  // namespace transmla::cpu
