#include <cmath>
#include <optional>

#include "core/engine/cpu/weight_loader.h"
#include "core/engine/cuda/cuda_model.h"
#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/kernels.h"
#include "core/engine/rope.h"
#include "core/io/half_range.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cuda {
namespace {

// The device type that holds a stored tensor's values as they are (none for float64).
std::optional<GpuType> StoredGpuType(DType t) {
  switch (t) {
    case DType::kF32: return GpuType::kF32;
    case DType::kBF16: return GpuType::kBF16;
    case DType::kF16: return GpuType::kF16;
    default: return std::nullopt;
  }
}

}  // namespace

CudaEngine::CudaEngine(const ModelConfig& config, GpuType type, int64_t max_kv_bytes)
    : config_(config),
      type_(type),
      budget_(std::make_shared<cpu::KvBudget>(max_kv_bytes)),
      rope_scale_(static_cast<float>(RopeAttentionScaling(config))) {
  const int64_t hd = config.head_dim, kv = config.num_key_value_heads * hd;
  if (mla()) {
    const int64_t key = config.kv_lora_rank + config.qk_rope_head_dim;
    const int64_t padded = PaddedDims(key, type);
    const float scale =
        static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.qk_nope_head_dim + config.qk_rope_head_dim)));
    layout_ = {config.num_attention_heads, 1, padded, config.kv_lora_rank, padded, 0, 0, 0, padded, scale};
    prompt_layout_ = MlaPromptLayout(config, type, scale);
  } else {
    layout_ = {config.num_attention_heads, config.num_key_value_heads, hd, hd, 2 * kv, hd, kv, hd, hd,
               static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)))};
  }
}

CudaEngine::~CudaEngine() {
  if (blas_ != nullptr) cublasDestroy(blas_);
}

std::string CudaEngine::device() const { return fmt::format("cuda:{}", device_); }

absl::Status CudaEngine::UploadMatrix(const TensorStore& store, const std::vector<std::string>& names, int64_t rows,
                                      int64_t cols, GpuMatrix* out) {
  // Parts are stacked by rows; each part's row count is its tensor's first dimension. A part goes
  // up in its stored type and converts on the device: float32 copies on the host cost more in
  // fresh pages than the conversion itself (calibration loads one block per balance candidate).
  const size_t n = static_cast<size_t>(rows * cols);
  RETURN_IF_ERROR(out->data.Reserve(n * Bytes(type_)));
  int64_t row = 0;
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(const TensorView any_shape, store.Get(name));
    const int64_t part_rows = any_shape.shape.empty() ? 0 : any_shape.shape[0];
    if (row + part_rows > rows) return absl::InvalidArgumentError(fmt::format("{} has {} rows, too many", name, part_rows));
    ASSIGN_OR_RETURN(const TensorView view, store.Get(name, {part_rows, cols}));
    const int64_t count = part_rows * cols;
    if (type_ == GpuType::kF16 && view.dtype != DType::kF16) {
      if (const absl::Status fits = CheckFitsHalfPrecision(view); !fits.ok()) {
        return absl::InvalidArgumentError(fmt::format("--gpu-dtype f16: {}; use bf16 or f32", std::string(fits.message())));
      }
    }
    void* rows_out = static_cast<char*>(out->data.get()) + static_cast<size_t>(row * cols) * Bytes(type_);
    if (const std::optional<GpuType> stored = StoredGpuType(view.dtype)) {
      RETURN_IF_ERROR(staging_.Upload(view.data, view.nbytes));
      Convert(staging_.get(), *stored, count, rows_out, type_, nullptr);
    } else {
      ASSIGN_OR_RETURN(const cpu::Mat part, cpu::LoadMatrix(store, name, part_rows, cols));
      RETURN_IF_ERROR(staging_.Upload(part.data(), static_cast<size_t>(count) * sizeof(float)));
      Convert(staging_.get(), GpuType::kF32, count, rows_out, type_, nullptr);
    }
    CUDA_RETURN_IF_ERROR(cudaGetLastError());
    row += part_rows;
  }
  if (row != rows) return absl::InvalidArgumentError(fmt::format("{} rows where {} were expected", row, rows));
  out->type = type_;
  out->rows = rows;
  out->cols = cols;
  parameters_ += rows * cols;
  weight_bytes_ += static_cast<int64_t>(n * Bytes(type_));
  return absl::OkStatus();
}

absl::Status CudaEngine::UploadVector(const TensorStore& store, const std::vector<std::string>& names, int64_t size,
                                      DeviceBuffer* out, int64_t leading_zeros) {
  std::vector<float> all(static_cast<size_t>(leading_zeros), 0.0f);
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(const TensorView view, store.Get(name));
    ASSIGN_OR_RETURN(const cpu::Vec v, cpu::LoadVector(store, name, view.shape.empty() ? 0 : view.shape[0]));
    all.insert(all.end(), v.data(), v.data() + v.size());
  }
  if (static_cast<int64_t>(all.size()) != leading_zeros + size) {
    return absl::InvalidArgumentError(
        fmt::format("{} values where {} were expected", static_cast<int64_t>(all.size()) - leading_zeros, size));
  }
  parameters_ += size;
  weight_bytes_ += size * 4;
  return out->Upload(all.data(), all.size() * sizeof(float));
}

absl::Status CudaEngine::LoadAttention(const TensorStore& store, const std::string& p, LayerWeights* w) {
  const int64_t d = config_.hidden_size, h = config_.num_attention_heads, hd = config_.head_dim;
  const bool bias = config_.attention_bias;
  if (!mla()) {
    const int64_t kv = config_.num_key_value_heads * hd;
    RETURN_IF_ERROR(UploadMatrix(store, {p + "q_proj.weight", p + "k_proj.weight", p + "v_proj.weight"}, h * hd + 2 * kv,
                                 d, &w->in_proj));
    if (bias) {
      RETURN_IF_ERROR(UploadVector(store, {p + "q_proj.bias", p + "k_proj.bias", p + "v_proj.bias"}, h * hd + 2 * kv,
                                   &w->in_bias));
    }
    return UploadMatrix(store, {p + "o_proj.weight"}, d, h * hd, &w->o_proj);
  }
  const int64_t rank = config_.kv_lora_rank, rope = config_.qk_rope_head_dim, nope = config_.qk_nope_head_dim;
  const int64_t v = config_.v_head_dim, ql = config_.q_lora_rank, q_dim = h * (nope + rope);
  const std::string q_first = ql > 0 ? p + "q_a_proj.weight" : p + "q_proj.weight";
  RETURN_IF_ERROR(UploadMatrix(store, {q_first, p + "kv_a_proj_with_mqa.weight"}, (ql > 0 ? ql : q_dim) + rank + rope, d,
                               &w->in_proj));
  if (bias) {
    // transformers' DeepSeek-V3 has q_a and kv_a biases (attention_bias) but none on q_proj, whose
    // rows of the fused projection get zeros.
    if (ql > 0) {
      RETURN_IF_ERROR(UploadVector(store, {p + "q_a_proj.bias", p + "kv_a_proj_with_mqa.bias"}, ql + rank + rope,
                                   &w->in_bias));
    } else {
      RETURN_IF_ERROR(UploadVector(store, {p + "kv_a_proj_with_mqa.bias"}, rank + rope, &w->in_bias, q_dim));
    }
    RETURN_IF_ERROR(UploadVector(store, {p + "o_proj.bias"}, d, &w->o_bias));
  }
  if (ql > 0) {
    RETURN_IF_ERROR(UploadVector(store, {p + "q_a_layernorm.weight"}, ql, &w->q_a_norm));
    RETURN_IF_ERROR(UploadMatrix(store, {p + "q_b_proj.weight"}, q_dim, ql, &w->q_b));
  }
  RETURN_IF_ERROR(UploadVector(store, {p + "kv_a_layernorm.weight"}, rank, &w->kv_a_norm));
  RETURN_IF_ERROR(UploadMatrix(store, {p + "kv_b_proj.weight"}, h * (nope + v), rank, &w->kv_b));
  if (nope > 0) {
    RETURN_IF_ERROR(w->uk_t.data.Reserve(static_cast<size_t>(h * rank * nope) * Bytes(type_)));
    Transpose(w->kv_b.data.get(), (nope + v) * rank, h, nope, rank, type_, w->uk_t.data.get(), nullptr);
    CUDA_RETURN_IF_ERROR(cudaGetLastError());
    w->uk_t.type = type_;
    w->uk_t.rows = h * rank;
    w->uk_t.cols = nope;
  }
  return UploadMatrix(store, {p + "o_proj.weight"}, d, h * v, &w->o_proj);
}

absl::Status CudaEngine::InitDevice() {
  CUDA_RETURN_IF_ERROR(cudaGetDevice(&device_));
  CUBLAS_RETURN_IF_ERROR(cublasCreate(&blas_));
  CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));  // no TF32 for float32
  const int64_t rope_dims = mla() ? config_.qk_rope_head_dim : config_.head_dim;
  const std::vector<float> inv_freq = RopeInverseFrequencies(config_, rope_dims);
  rope_pairs_ = static_cast<int64_t>(inv_freq.size());
  return inv_freq_.Upload(inv_freq.data(), inv_freq.size() * sizeof(float));
}

absl::Status CudaEngine::LoadLayer(const TensorStore& store, int64_t index, LayerWeights* w) {
  const int64_t d = config_.hidden_size, f = config_.intermediate_size;
  const std::string p = fmt::format("model.layers.{}.", index);
  RETURN_IF_ERROR(UploadVector(store, {p + "input_layernorm.weight"}, d, &w->input_norm));
  RETURN_IF_ERROR(UploadVector(store, {p + "post_attention_layernorm.weight"}, d, &w->post_norm));
  RETURN_IF_ERROR(LoadAttention(store, p + "self_attn.", w));
  widest_proj_ = std::max(widest_proj_, w->in_proj.rows);
  RETURN_IF_ERROR(UploadMatrix(store, {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, 2 * f, d, &w->gate_up));
  return UploadMatrix(store, {p + "mlp.down_proj.weight"}, d, f, &w->down);
}

absl::Status CudaEngine::Load(const TensorStore& store) {
  RETURN_IF_ERROR(InitDevice());
  const int64_t d = config_.hidden_size, vocab = config_.vocab_size;
  RETURN_IF_ERROR(UploadMatrix(store, {"model.embed_tokens.weight"}, vocab, d, &embed_));
  if (config_.tie_word_embeddings) {
    RETURN_IF_ERROR(UploadMatrix(store, {"model.embed_tokens.weight"}, vocab, d, &lm_head_));
    parameters_ -= vocab * d;
  } else {
    RETURN_IF_ERROR(UploadMatrix(store, {"lm_head.weight"}, vocab, d, &lm_head_));
  }
  RETURN_IF_ERROR(UploadVector(store, {"model.norm.weight"}, d, &final_norm_));
  layers_.resize(static_cast<size_t>(config_.num_hidden_layers));
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    RETURN_IF_ERROR(LoadLayer(store, i, &layers_[static_cast<size_t>(i)]));
  }
  CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  staging_.Free();  // loading's staging is not needed again
  return absl::OkStatus();
}

absl::Status CudaEngine::LoadBlock(const TensorStore& store, int64_t index) {
  RETURN_IF_ERROR(InitDevice());
  layers_.resize(1);
  RETURN_IF_ERROR(LoadLayer(store, index, &layers_[0]));
  CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  staging_.Free();
  return absl::OkStatus();
}

}  // namespace transmla::cuda
