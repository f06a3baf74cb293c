#include "core/engine/cpu/mla_attention.h"

#include <cmath>

#include "core/engine/cpu/weight_loader.h"
#include "core/engine/rope.h"
#include "core/util/status_macros.h"

namespace transmla::cpu {

using StridedRows = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;

MlaAttention::MlaAttention(const ModelConfig& config, bool absorbed)
    : absorbed_(absorbed),
      heads_(config.num_attention_heads),
      rank_(config.kv_lora_rank),
      nope_(config.qk_nope_head_dim),
      rope_(config.qk_rope_head_dim),
      v_dim_(config.v_head_dim),
      q_lora_rank_(config.q_lora_rank),
      kv_norm_eps_(static_cast<float>(config.kv_a_layernorm_eps)),
      scale_(1.0f / std::sqrt(static_cast<float>(config.qk_nope_head_dim + config.qk_rope_head_dim))),
      inv_freq_(RopeInverseFrequencies(config, config.qk_rope_head_dim)),
      rope_scaling_(static_cast<float>(RopeAttentionScaling(config))) {}

absl::StatusOr<std::unique_ptr<MlaAttention>> MlaAttention::Load(const ModelConfig& config, const TensorStore& store,
                                                                 const std::string& prefix, bool absorbed) {
  std::unique_ptr<MlaAttention> a(new MlaAttention(config, absorbed));
  const int64_t d = config.hidden_size;
  const int64_t q_dim = a->heads_ * (a->nope_ + a->rope_);
  if (a->q_lora_rank_ > 0) {
    ASSIGN_OR_RETURN(a->q_a_, LoadMatrix(store, prefix + "q_a_proj.weight", a->q_lora_rank_, d));
    ASSIGN_OR_RETURN(a->q_a_norm_, LoadVector(store, prefix + "q_a_layernorm.weight", a->q_lora_rank_));
    ASSIGN_OR_RETURN(a->q_b_, LoadMatrix(store, prefix + "q_b_proj.weight", q_dim, a->q_lora_rank_));
    if (config.attention_bias) {
      ASSIGN_OR_RETURN(a->q_a_bias_, LoadVector(store, prefix + "q_a_proj.bias", a->q_lora_rank_));
    }
  } else {
    ASSIGN_OR_RETURN(a->q_proj_, LoadMatrix(store, prefix + "q_proj.weight", q_dim, d));
  }
  ASSIGN_OR_RETURN(a->kv_a_, LoadMatrix(store, prefix + "kv_a_proj_with_mqa.weight", a->rank_ + a->rope_, d));
  ASSIGN_OR_RETURN(a->kv_a_norm_, LoadVector(store, prefix + "kv_a_layernorm.weight", a->rank_));
  ASSIGN_OR_RETURN(a->kv_b_, LoadMatrix(store, prefix + "kv_b_proj.weight", a->heads_ * (a->nope_ + a->v_dim_), a->rank_));
  ASSIGN_OR_RETURN(a->o_proj_, LoadMatrix(store, prefix + "o_proj.weight", d, a->heads_ * a->v_dim_));
  if (config.attention_bias) {
    ASSIGN_OR_RETURN(a->kv_a_bias_, LoadVector(store, prefix + "kv_a_proj_with_mqa.bias", a->rank_ + a->rope_));
    ASSIGN_OR_RETURN(a->o_bias_, LoadVector(store, prefix + "o_proj.bias", d));
  }
  return a;
}

int64_t MlaAttention::num_parameters() const {
  int64_t n = q_proj_.size() + q_a_.size() + q_a_norm_.size() + q_b_.size() + kv_a_.size() + kv_a_norm_.size() +
              kv_b_.size() + o_proj_.size();
  for (const auto* b : {&q_a_bias_, &kv_a_bias_, &o_bias_}) n += b->has_value() ? (*b)->size() : 0;
  return n;
}

void MlaAttention::Queries(const Mat& normed, Mat* q) const {
  if (q_lora_rank_ == 0) {
    Linear(normed, q_proj_, nullptr, q);
    return;
  }
  Mat qa, qa_normed;
  Linear(normed, q_a_, q_a_bias_ ? &*q_a_bias_ : nullptr, &qa);
  // transformers builds q_a_layernorm with its class default eps (1e-6), like kv_a_layernorm.
  RmsNorm(qa, q_a_norm_, 1e-6f, &qa_normed);
  Linear(qa_normed, q_b_, nullptr, q);
}

void MlaAttention::Forward(int64_t layer, const Mat& normed, absl::Span<const SequenceSlice> slices, Mat* out) const {
  Mat q, kv;
  Queries(normed, &q);
  Linear(normed, kv_a_, kv_a_bias_ ? &*kv_a_bias_ : nullptr, &kv);
  Mat latent;
  RmsNorm(kv.leftCols(rank_), kv_a_norm_, kv_norm_eps_, &latent);

  const int64_t qk_dim = nope_ + rope_;
  for (const SequenceSlice& s : slices) {
#pragma omp parallel for schedule(static) if (s.count > 8)
    for (int64_t i = 0; i < s.count; ++i) {
      std::vector<float> cos(rope_ / 2), sin(rope_ / 2);
      const int64_t row = s.row_begin + i;
      RopeAngles(s.start_position + i, inv_freq_, rope_scaling_, cos.data(), sin.data());
      for (int64_t h = 0; h < heads_; ++h) {
        ApplyRope(q.row(row).data() + h * qk_dim + nope_, 1, rope_, cos.data(), sin.data(), RopeLayout::kInterleaved);
      }
      float* cache_row = s.cache->Row(layer, s.start_position + i);
      std::copy_n(latent.row(row).data(), rank_, cache_row);
      std::copy_n(kv.row(row).data() + rank_, rope_, cache_row + rank_);
      ApplyRope(cache_row + rank_, 1, rope_, cos.data(), sin.data(), RopeLayout::kInterleaved);
    }
  }
  Mat attended(normed.rows(), heads_ * v_dim_);
  for (const SequenceSlice& s : slices) {
    if (absorbed_) {
      AttendAbsorbed(s, layer, q, &attended);
    } else {
      AttendNaive(s, layer, q, &attended);
    }
  }
  Linear(attended, o_proj_, o_bias_ ? &*o_bias_ : nullptr, out);
}

void MlaAttention::AttendAbsorbed(const SequenceSlice& s, int64_t layer, const Mat& q, Mat* attended) const {
  const int64_t qk_dim = nope_ + rope_;
  const int64_t stride = values_per_token();
  const float* cache = s.cache->Row(layer, 0);
#pragma omp parallel for collapse(2) schedule(dynamic, 4)
  for (int64_t i = 0; i < s.count; ++i) {
    for (int64_t h = 0; h < heads_; ++h) {
      const int64_t row = s.row_begin + i;
      const int64_t len = s.start_position + i + 1;
      const StridedRows latents(cache, len, rank_, Eigen::OuterStride<>(stride));
      const StridedRows rope_keys(cache + rank_, len, rope_, Eigen::OuterStride<>(stride));
      const auto w_uk = kv_b_.middleRows(h * (nope_ + v_dim_), nope_);           // [nope x rank]
      const auto w_uv = kv_b_.middleRows(h * (nope_ + v_dim_) + nope_, v_dim_);  // [v x rank]
      const Eigen::Map<const Vec> q_nope(q.row(row).data() + h * qk_dim, nope_);
      const Eigen::Map<const Vec> q_rope(q.row(row).data() + h * qk_dim + nope_, rope_);
      const Vec q_latent = w_uk.transpose() * q_nope;
      Vec scores = (latents * q_latent + rope_keys * q_rope) * scale_;
      SoftmaxInPlace(scores.data(), len);
      const Vec mixed_latent = latents.transpose() * scores;
      Eigen::Map<Vec>(attended->row(row).data() + h * v_dim_, v_dim_).noalias() = w_uv * mixed_latent;
    }
  }
}

void MlaAttention::AttendNaive(const SequenceSlice& s, int64_t layer, const Mat& q, Mat* attended) const {
  const int64_t qk_dim = nope_ + rope_;
  const int64_t stride = values_per_token();
  const int64_t len_all = s.start_position + s.count;
  const StridedRows latents(s.cache->Row(layer, 0), len_all, rank_, Eigen::OuterStride<>(stride));
  const StridedRows rope_keys(s.cache->Row(layer, 0) + rank_, len_all, rope_, Eigen::OuterStride<>(stride));
  const Mat expanded = latents * kv_b_.transpose();  // [len x heads*(nope+v)]: per-head K_nope and V
#pragma omp parallel for collapse(2) schedule(dynamic, 4)
  for (int64_t i = 0; i < s.count; ++i) {
    for (int64_t h = 0; h < heads_; ++h) {
      const int64_t row = s.row_begin + i;
      const int64_t len = s.start_position + i + 1;
      const int64_t base = h * (nope_ + v_dim_);
      const StridedRows keys_nope(expanded.data() + base, len, nope_, Eigen::OuterStride<>(expanded.cols()));
      const StridedRows values(expanded.data() + base + nope_, len, v_dim_, Eigen::OuterStride<>(expanded.cols()));
      const Eigen::Map<const Vec> q_nope(q.row(row).data() + h * qk_dim, nope_);
      const Eigen::Map<const Vec> q_rope(q.row(row).data() + h * qk_dim + nope_, rope_);
      Vec scores = (keys_nope * q_nope + rope_keys.topRows(len) * q_rope) * scale_;
      SoftmaxInPlace(scores.data(), len);
      Eigen::Map<Vec>(attended->row(row).data() + h * v_dim_, v_dim_).noalias() = values.transpose() * scores;
    }
  }
}

}  // namespace transmla::cpu
