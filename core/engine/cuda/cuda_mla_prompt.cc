// The MLA prompt path: a long prompt's attention as plain multi-head attention over keys and values
// expanded from the latent cache (k_h = [W_UK_h c | k_pe], v_h = W_UV_h c). The absorbed form reads
// the 576-wide latent once per query token and head tile; expanded, a tile of 64 query tokens of
// one head shares each key, which is what makes prefill fast.
#include <cuda_runtime.h>

#include "core/engine/cuda/cuda_model.h"
#include "core/engine/cuda/cuda_sequence.h"
#include "core/engine/cuda/cuda_status.h"
#include "core/util/status_macros.h"

namespace transmla::cuda {
namespace {

constexpr int64_t kPromptMinTokens = 64;
constexpr size_t kMaxExpandedBytes = size_t{1} << 30;  // prompts beyond this take the absorbed path

}  // namespace

// Per token, per head: [k_nope | k_pe | zero padding] then [v | zero padding].
AttentionLayout MlaPromptLayout(const ModelConfig& c, GpuType type, float scale) {
  const int64_t h = c.num_attention_heads, key = PaddedDims(c.qk_nope_head_dim + c.qk_rope_head_dim, type);
  const int64_t head = key + PaddedDims(c.v_head_dim, type);
  return {h, h, key, c.v_head_dim, h * head, head, key, head, key, scale};
}

bool CudaEngine::TakePromptPath(const AttentionSlice& slice, const CudaSequence& sequence) {
  if (!mla() || slice.count < kPromptMinTokens) return false;
  const size_t end = static_cast<size_t>(sequence.length() + slice.count);
  const size_t bytes = end * static_cast<size_t>(prompt_layout_.token_stride) * Bytes(type_);
  if (prompt_bytes_ + bytes > kMaxExpandedBytes) return false;
  prompts_.push_back({slice, &sequence, prompt_bytes_});
  prompt_bytes_ += bytes;
  return true;
}

absl::Status CudaEngine::PlanPrompts(int64_t rows) {
  if (prompts_.empty()) return absl::OkStatus();
  const size_t query_bytes = static_cast<size_t>(rows * config_.num_attention_heads * prompt_layout_.key_dim) * Bytes(type_);
  RETURN_IF_ERROR(expanded_.Reserve(prompt_bytes_));
  RETURN_IF_ERROR(prompt_query_.Reserve(query_bytes));
  // Padding dims stay zero: no layer's GEMMs or copies write them, so once per step is enough.
  const int64_t qk = config_.qk_nope_head_dim + config_.qk_rope_head_dim;
  if (prompt_layout_.key_dim != qk || prompt_layout_.value_head_stride != prompt_layout_.key_dim + config_.v_head_dim) {
    CUDA_RETURN_IF_ERROR(cudaMemsetAsync(expanded_.get(), 0, prompt_bytes_, nullptr));
    CUDA_RETURN_IF_ERROR(cudaMemsetAsync(prompt_query_.get(), 0, query_bytes, nullptr));
  }
  std::vector<AttentionSlice> slices;
  std::vector<void*> caches;
  for (const PromptSlice& p : prompts_) {
    slices.push_back(p.slice);
    caches.push_back(static_cast<char*>(expanded_.get()) + p.offset);
  }
  RETURN_IF_ERROR(prompt_caches_.Upload(caches.data(), caches.size() * sizeof(void*)));
  return prompt_plan_.Build(slices, prompt_layout_, type_, nullptr);
}

absl::Status CudaEngine::MlaPromptAttention(int64_t layer, const LayerWeights& w, const float* queries,
                                            int64_t queries_ld, int64_t rows) {
  const int64_t h = config_.num_attention_heads, rank = config_.kv_lora_rank, rope_dims = config_.qk_rope_head_dim;
  const int64_t nope = config_.qk_nope_head_dim, v = config_.v_head_dim, qk = nope + rope_dims;
  const AttentionLayout& l = prompt_layout_;
  const size_t elem = Bytes(type_);
  for (const PromptSlice& p : prompts_) {
    const char* cache = static_cast<const char*>(p.sequence->layer(layer));
    char* keys = static_cast<char*>(expanded_.get()) + p.offset;
    const int64_t end = p.slice.start_position + p.slice.count;
    const Operand latent{cache, type_, layout_.token_stride, 0};
    if (nope > 0) {
      RETURN_IF_ERROR(Gemm(blas_, latent, {w.kv_b.data.get(), type_, rank, (nope + v) * rank}, end, rank, nope,
                           {keys, type_, l.token_stride, l.key_head_stride}, 0.0f, h));
    }
    RETURN_IF_ERROR(Gemm(blas_, latent, {static_cast<const char*>(w.kv_b.data.get()) + nope * rank * elem, type_, rank, (nope + v) * rank},
                         end, rank, v, {keys + l.value_offset * elem, type_, l.token_stride, l.value_head_stride},
                         0.0f, h));
    BroadcastToHeads(cache + rank * elem, layout_.token_stride, end, rope_dims, h, keys + nope * elem, l.token_stride,
                     l.key_head_stride, type_, nullptr);
  }
  CopyHeadsWithRope({{queries, queries_ld, qk, h, qk, nope, rope_dims, prompt_query_.get(), nullptr, type_,
                      h * l.key_dim, 0, l.key_dim, 0}},
                    rows, Rope(), nullptr);
  return prompt_plan_.Run(prompt_query_.get(), prompt_caches_.as<const void*>(), nullptr, values_.get(), type_,
                          nullptr);
}

}  // namespace transmla::cuda
