#include "core/engine/cuda/cuda_engine.h"

#include <cmath>
#include <utility>

#include "core/engine/cpu/kv_cache.h"
#include "core/engine/cpu/weight_loader.h"
#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/kernels.h"
#include "core/engine/gpu_backend.h"
#include "core/engine/rope.h"
#include "core/engine/step_validation.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cuda {
namespace {

// Device memory, freed with its owner.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  ~DeviceBuffer() { cudaFree(data_); }

  // Grows (contents kept when `keep`) to at least `bytes`.
  absl::Status Reserve(size_t bytes, bool keep = false) {
    if (bytes <= bytes_) return absl::OkStatus();
    void* fresh = nullptr;
    CUDA_RETURN_IF_ERROR(cudaMalloc(&fresh, bytes));
    if (keep && bytes_ > 0) CUDA_RETURN_IF_ERROR(cudaMemcpy(fresh, data_, bytes_, cudaMemcpyDeviceToDevice));
    cudaFree(data_);
    data_ = fresh;
    bytes_ = bytes;
    return absl::OkStatus();
  }
  absl::Status Upload(const void* host, size_t bytes) {
    RETURN_IF_ERROR(Reserve(bytes));
    CUDA_RETURN_IF_ERROR(cudaMemcpy(data_, host, bytes, cudaMemcpyHostToDevice));
    return absl::OkStatus();
  }
  float* f() const { return static_cast<float*>(data_); }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

struct Layer {
  DeviceBuffer input_norm, post_norm, wq, wk, wv, bq, bk, bv, wo, w_gate_up, w_down;
};

// One sequence: per layer a device buffer of [capacity x 2 x kv_dim] floats (K then V per token).
class CudaSequence : public Sequence {
 public:
  CudaSequence(int64_t layers, int64_t kv_dim, std::shared_ptr<cpu::KvBudget> budget)
      : kv_dim_(kv_dim), budget_(std::move(budget)), layers_(static_cast<size_t>(layers)) {}
  ~CudaSequence() override { budget_->Release(charged_ * BytesPerToken()); }

  int64_t length() const override { return length_; }
  int64_t kv_bytes() const override { return length_ * BytesPerToken(); }
  void Truncate(int64_t length) override {
    length_ = std::min(length_, length);
    budget_->Release((charged_ - length_) * BytesPerToken());
    charged_ = length_;
  }

  absl::Status Reserve(int64_t extra) {
    const int64_t want = length_ + extra;
    if (want > charged_) {
      RETURN_IF_ERROR(budget_->Reserve((want - charged_) * BytesPerToken()));
      charged_ = want;
    }
    if (want > capacity_) {
      const int64_t capacity = std::max<int64_t>({want, 2 * capacity_, 16});
      for (DeviceBuffer& layer : layers_) {
        RETURN_IF_ERROR(layer.Reserve(static_cast<size_t>(capacity * 2 * kv_dim_) * sizeof(float), /*keep=*/true));
      }
      capacity_ = capacity;
    }
    return absl::OkStatus();
  }
  void Commit(int64_t extra) { length_ += extra; }
  float* layer(int64_t i) const { return layers_[static_cast<size_t>(i)].f(); }

 private:
  int64_t BytesPerToken() const { return static_cast<int64_t>(layers_.size()) * 2 * kv_dim_ * 4; }

  const int64_t kv_dim_;
  std::shared_ptr<cpu::KvBudget> budget_;
  std::vector<DeviceBuffer> layers_;
  int64_t length_ = 0, charged_ = 0, capacity_ = 0;
};

class CudaEngine : public Engine {
 public:
  explicit CudaEngine(const ModelConfig& config, int64_t max_kv_bytes)
      : config_(config), budget_(std::make_shared<cpu::KvBudget>(max_kv_bytes)) {}
  ~CudaEngine() override {
    if (blas_ != nullptr) cublasDestroy(blas_);
  }

  absl::Status Load(const TensorStore& store);

  const ModelConfig& config() const override { return config_; }
  std::string device() const override { return fmt::format("cuda:{}", device_); }
  int64_t KvBytesPerToken() const override { return config_.num_hidden_layers * 2 * KvDim() * 4; }
  int64_t NumParameters() const override { return parameters_; }
  std::unique_ptr<Sequence> NewSequence() override {
    return std::make_unique<CudaSequence>(config_.num_hidden_layers, KvDim(), budget_);
  }
  absl::Status Forward(absl::Span<const ForwardStep> steps, std::vector<std::vector<float>>* logits) override;

 private:
  int64_t KvDim() const { return config_.num_key_value_heads * config_.head_dim; }
  absl::Status Upload(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols, DeviceBuffer* out);
  absl::Status UploadVector(const TensorStore& store, const std::string& name, int64_t size, DeviceBuffer* out);
  // y[rows x out] = x[rows x in] * W^T for a row-major W of [out x in].
  absl::Status Gemm(const float* x, const DeviceBuffer& w, int64_t rows, int64_t in, int64_t out, float* y);

  ModelConfig config_;
  std::shared_ptr<cpu::KvBudget> budget_;
  cublasHandle_t blas_ = nullptr;
  int device_ = 0;
  int64_t parameters_ = 0;
  DeviceBuffer embed_, lm_head_, final_norm_, inv_freq_;
  std::vector<Layer> layers_;
  // Scratch of the last Forward, grown as needed.
  DeviceBuffer ids_, positions_, caches_, x_, h_, q_, k_, v_, attn_, tmp_, gate_up_, act_, rows_, out_rows_, logits_;
};

absl::Status CudaEngine::Upload(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols,
                                DeviceBuffer* out) {
  ASSIGN_OR_RETURN(const cpu::Mat m, cpu::LoadMatrix(store, name, rows, cols));
  parameters_ += rows * cols;
  return out->Upload(m.data(), static_cast<size_t>(m.size()) * sizeof(float));
}

absl::Status CudaEngine::UploadVector(const TensorStore& store, const std::string& name, int64_t size,
                                      DeviceBuffer* out) {
  ASSIGN_OR_RETURN(const cpu::Vec v, cpu::LoadVector(store, name, size));
  parameters_ += size;
  return out->Upload(v.data(), static_cast<size_t>(v.size()) * sizeof(float));
}

absl::Status CudaEngine::Load(const TensorStore& store) {
  CUDA_RETURN_IF_ERROR(cudaGetDevice(&device_));
  CUBLAS_RETURN_IF_ERROR(cublasCreate(&blas_));
  CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));  // true FP32, no TF32
  const int64_t d = config_.hidden_size, hd = config_.head_dim, f = config_.intermediate_size;
  const int64_t q_dim = config_.num_attention_heads * hd, kv = KvDim();
  RETURN_IF_ERROR(Upload(store, "model.embed_tokens.weight", config_.vocab_size, d, &embed_));
  RETURN_IF_ERROR(Upload(store, config_.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight",
                         config_.vocab_size, d, &lm_head_));
  if (config_.tie_word_embeddings) parameters_ -= config_.vocab_size * d;
  RETURN_IF_ERROR(UploadVector(store, "model.norm.weight", d, &final_norm_));
  const std::vector<float> inv_freq = RopeInverseFrequencies(config_, hd);
  RETURN_IF_ERROR(inv_freq_.Upload(inv_freq.data(), inv_freq.size() * sizeof(float)));
  layers_.resize(static_cast<size_t>(config_.num_hidden_layers));
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    Layer& l = layers_[static_cast<size_t>(i)];
    RETURN_IF_ERROR(UploadVector(store, p + "input_layernorm.weight", d, &l.input_norm));
    RETURN_IF_ERROR(UploadVector(store, p + "post_attention_layernorm.weight", d, &l.post_norm));
    RETURN_IF_ERROR(Upload(store, p + "self_attn.q_proj.weight", q_dim, d, &l.wq));
    RETURN_IF_ERROR(Upload(store, p + "self_attn.k_proj.weight", kv, d, &l.wk));
    RETURN_IF_ERROR(Upload(store, p + "self_attn.v_proj.weight", kv, d, &l.wv));
    if (config_.attention_bias) {
      RETURN_IF_ERROR(UploadVector(store, p + "self_attn.q_proj.bias", q_dim, &l.bq));
      RETURN_IF_ERROR(UploadVector(store, p + "self_attn.k_proj.bias", kv, &l.bk));
      RETURN_IF_ERROR(UploadVector(store, p + "self_attn.v_proj.bias", kv, &l.bv));
    }
    RETURN_IF_ERROR(Upload(store, p + "self_attn.o_proj.weight", d, q_dim, &l.wo));
    ASSIGN_OR_RETURN(const cpu::Mat gate, cpu::LoadMatrix(store, p + "mlp.gate_proj.weight", f, d));
    ASSIGN_OR_RETURN(const cpu::Mat up, cpu::LoadMatrix(store, p + "mlp.up_proj.weight", f, d));
    cpu::Mat gate_up(2 * f, d);
    gate_up << gate, up;
    parameters_ += 2 * f * d;
    RETURN_IF_ERROR(l.w_gate_up.Upload(gate_up.data(), static_cast<size_t>(gate_up.size()) * sizeof(float)));
    RETURN_IF_ERROR(Upload(store, p + "mlp.down_proj.weight", d, f, &l.w_down));
  }
  return absl::OkStatus();
}

absl::Status CudaEngine::Gemm(const float* x, const DeviceBuffer& w, int64_t rows, int64_t in, int64_t out, float* y) {
  const float one = 1.0f, zero = 0.0f;
  // Column-major view: Y^T [out x rows] = W [out x in] (W^T stored) * X^T [in x rows].
  CUBLAS_RETURN_IF_ERROR(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(rows),
                                     static_cast<int>(in), &one, w.f(), static_cast<int>(in), x, static_cast<int>(in),
                                     &zero, y, static_cast<int>(out)));
  return absl::OkStatus();
}


absl::Status CudaEngine::Forward(absl::Span<const ForwardStep> steps, std::vector<std::vector<float>>* logits) {
  RETURN_IF_ERROR(ValidateForwardSteps(
      steps, config_, [](const Sequence* s) { return dynamic_cast<const CudaSequence*>(s) != nullptr; }));
  const int64_t d = config_.hidden_size, hd = config_.head_dim, f = config_.intermediate_size;
  const int64_t heads = config_.num_attention_heads, kv_heads = config_.num_key_value_heads, kv = KvDim();
  const int64_t layers = config_.num_hidden_layers, vocab = config_.vocab_size;
  std::vector<int32_t> ids, positions, out_rows;
  std::vector<CudaSequence*> owners;
  for (size_t i = 0; i < steps.size(); ++i) {
    auto* seq = static_cast<CudaSequence*>(steps[i].sequence);
    const int64_t count = static_cast<int64_t>(steps[i].tokens.size());
    if (absl::Status reserved = seq->Reserve(count); !reserved.ok()) {
      for (CudaSequence* s : owners) s->Truncate(s->length());
      return reserved;
    }
    owners.push_back(seq);
    for (int64_t t = 0; t < count; ++t) {
      if (steps[i].all_logits || t == count - 1) out_rows.push_back(static_cast<int32_t>(ids.size()));
      ids.push_back(steps[i].tokens[static_cast<size_t>(t)]);
      positions.push_back(static_cast<int32_t>(seq->length() + t));
    }
  }
  const int64_t rows = static_cast<int64_t>(ids.size());
  // Per layer, each row's cache pointer (layer-major so a layer's table is contiguous).
  std::vector<float*> caches(static_cast<size_t>(layers * rows));
  for (int64_t l = 0; l < layers; ++l) {
    int64_t r = 0;
    for (size_t i = 0; i < steps.size(); ++i) {
      for (size_t t = 0; t < steps[i].tokens.size(); ++t) caches[static_cast<size_t>(l * rows + r++)] = owners[i]->layer(l);
    }
  }
  const size_t fb = sizeof(float);
  RETURN_IF_ERROR(ids_.Upload(ids.data(), ids.size() * sizeof(int32_t)));
  RETURN_IF_ERROR(positions_.Upload(positions.data(), positions.size() * sizeof(int32_t)));
  RETURN_IF_ERROR(caches_.Upload(caches.data(), caches.size() * sizeof(float*)));
  RETURN_IF_ERROR(out_rows_.Upload(out_rows.data(), out_rows.size() * sizeof(int32_t)));
  for (DeviceBuffer* b : {&x_, &h_, &tmp_}) RETURN_IF_ERROR(b->Reserve(rows * d * fb));
  RETURN_IF_ERROR(q_.Reserve(rows * heads * hd * fb));
  RETURN_IF_ERROR(attn_.Reserve(rows * heads * hd * fb));
  RETURN_IF_ERROR(k_.Reserve(rows * kv * fb));
  RETURN_IF_ERROR(v_.Reserve(rows * kv * fb));
  RETURN_IF_ERROR(gate_up_.Reserve(rows * 2 * f * fb));
  RETURN_IF_ERROR(act_.Reserve(rows * f * fb));
  const int64_t n_out = static_cast<int64_t>(out_rows.size());
  RETURN_IF_ERROR(rows_.Reserve(n_out * d * fb));
  RETURN_IF_ERROR(logits_.Reserve(n_out * vocab * fb));

  cudaStream_t s = nullptr;
  EmbeddingGather(embed_.f(), ids_.as<int32_t>(), rows, d, x_.f(), s);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t pairs = hd / 2;
  for (int64_t l = 0; l < layers; ++l) {
    const Layer& w = layers_[static_cast<size_t>(l)];
    float* const* layer_caches = caches_.as<float*>() + l * rows;
    RmsNorm(x_.f(), w.input_norm.f(), rows, d, static_cast<float>(config_.rms_norm_eps), h_.f(), s);
    RETURN_IF_ERROR(Gemm(h_.f(), w.wq, rows, d, heads * hd, q_.f()));
    RETURN_IF_ERROR(Gemm(h_.f(), w.wk, rows, d, kv, k_.f()));
    RETURN_IF_ERROR(Gemm(h_.f(), w.wv, rows, d, kv, v_.f()));
    if (config_.attention_bias) {
      AddBias(q_.f(), w.bq.f(), rows, heads * hd, s);
      AddBias(k_.f(), w.bk.f(), rows, kv, s);
      AddBias(v_.f(), w.bv.f(), rows, kv, s);
    }
    RopeRotateHalf(q_.f(), rows, heads, hd, pairs, inv_freq_.f(), positions_.as<int32_t>(), s);
    RopeRotateHalf(k_.f(), rows, kv_heads, hd, pairs, inv_freq_.f(), positions_.as<int32_t>(), s);
    AppendKv(k_.f(), v_.f(), rows, kv, layer_caches, positions_.as<int32_t>(), s);
    Attention(q_.f(), layer_caches, positions_.as<int32_t>(), rows, heads, kv_heads, hd, scale, attn_.f(), s);
    RETURN_IF_ERROR(Gemm(attn_.f(), w.wo, rows, heads * hd, d, tmp_.f()));
    AddInPlace(x_.f(), tmp_.f(), rows * d, s);
    RmsNorm(x_.f(), w.post_norm.f(), rows, d, static_cast<float>(config_.rms_norm_eps), h_.f(), s);
    RETURN_IF_ERROR(Gemm(h_.f(), w.w_gate_up, rows, d, 2 * f, gate_up_.f()));
    SiluMul(gate_up_.f(), rows, f, act_.f(), s);
    RETURN_IF_ERROR(Gemm(act_.f(), w.w_down, rows, f, d, tmp_.f()));
    AddInPlace(x_.f(), tmp_.f(), rows * d, s);
  }
  // Only the rows whose logits are wanted go through the final norm and the LM head.
  EmbeddingGather(x_.f(), out_rows_.as<int32_t>(), n_out, d, rows_.f(), s);
  RmsNorm(rows_.f(), final_norm_.f(), n_out, d, static_cast<float>(config_.rms_norm_eps), h_.f(), s);
  RETURN_IF_ERROR(Gemm(h_.f(), lm_head_, n_out, d, vocab, logits_.f()));
  CUDA_RETURN_IF_ERROR(cudaGetLastError());
  std::vector<float> host(static_cast<size_t>(n_out * vocab));
  CUDA_RETURN_IF_ERROR(cudaMemcpy(host.data(), logits_.f(), host.size() * fb, cudaMemcpyDeviceToHost));
  logits->assign(steps.size(), {});
  int64_t row = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t n = steps[i].all_logits ? static_cast<int64_t>(steps[i].tokens.size()) : 1;
    (*logits)[i].assign(host.begin() + row * vocab, host.begin() + (row + n) * vocab);
    row += n;
    owners[i]->Commit(static_cast<int64_t>(steps[i].tokens.size()));
  }
  return absl::OkStatus();
}

}  // namespace

bool CudaDeviceAvailable(std::string* why) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0) {
    if (why) *why = error != cudaSuccess ? cudaGetErrorString(error) : "no CUDA device";
    return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Engine>> CreateCudaEngine(const ModelConfig& config, const TensorStore& store,
                                                         int64_t max_kv_bytes) {
  if (config.architecture == Architecture::kDeepseekV3) {
    return absl::UnimplementedError("the CUDA engine runs llama-family (GQA) models only so far; use --device cpu "
                                    "for DeepSeek-V3 (MLA)");
  }
  if (config.head_dim > 256 || config.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(fmt::format("the CUDA engine needs an even head_dim <= 256, got {}", config.head_dim));
  }
  std::string why;
  if (!CudaDeviceAvailable(&why)) return absl::FailedPreconditionError(fmt::format("no CUDA device: {}", why));
  auto engine = std::make_unique<CudaEngine>(config, max_kv_bytes);
  RETURN_IF_ERROR(engine->Load(store));
  return engine;
}

void RegisterCudaBackend() {
  RegisterGpuBackend({"cuda", CudaDeviceAvailable,
                      [](const ModelConfig& c) { return c.architecture == Architecture::kLlama; }, CreateCudaEngine});
}

}  // namespace transmla::cuda
