#include "core/engine/cuda/cuda_engine.h"

#include "absl/cleanup/cleanup.h"
#include "core/engine/cuda/cuda_block_runner.h"
#include "core/engine/cuda/cuda_model.h"
#include "core/engine/cuda/cuda_sequence.h"
#include "core/engine/cuda/cuda_status.h"
#include "core/engine/cuda/greedy_tokens.h"
#include "core/engine/cuda/kernels.h"
#include "core/engine/gpu_backend.h"
#include "core/engine/rope.h"
#include "core/engine/step_validation.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cuda {
namespace {

constexpr cudaStream_t kStream = nullptr;

size_t MatrixBytes(int64_t rows, int64_t cols, GpuType type) { return static_cast<size_t>(rows * cols) * Bytes(type); }

}  // namespace

std::unique_ptr<Sequence> CudaEngine::NewSequence() {
  return std::make_unique<CudaSequence>(config_.num_hidden_layers, layout_.token_stride,
                                        static_cast<int64_t>(Bytes(type_)), budget_);
}

absl::Status CudaEngine::Linear(const void* x, const GpuMatrix& w, int64_t rows, float* y, float beta) {
  return Gemm(blas_, {x, type_, w.cols, 0}, w.operand(), rows, w.cols, w.rows, {y, GpuType::kF32, w.rows, 0},
              beta);
}

RopeArgs CudaEngine::Rope() const {
  return {rope_angles_.as<float2>(), rope_pairs_, positions_.as<int32_t>(),
          mla() ? RopeLayout::kInterleaved : RopeLayout::kRotateHalf};
}

absl::Status CudaEngine::GqaAttention(int64_t layer, const LayerWeights& w, int64_t rows) {
  const int64_t h = config_.num_attention_heads, hd = config_.head_dim, kv = config_.num_key_value_heads * hd;
  const int64_t width = w.in_proj.rows;
  RETURN_IF_ERROR(Linear(normed_.get(), w.in_proj, rows, proj_.f()));
  if (w.in_bias.bytes() > 0) AddBias(proj_.f(), w.in_bias.f(), rows, width, kStream);
  const RopeArgs rope = Rope();
  void* const* caches = row_caches_.as<void*>() + layer * rows;
  const HeadCopy q{proj_.f(), width, hd, h, hd, 0, hd, query_.get(), nullptr, type_, h * hd, 0, hd, 0};
  const HeadCopy k{proj_.f() + h * hd, width, hd, config_.num_key_value_heads, hd, 0, hd, nullptr, caches, type_, 0,
                   layout_.token_stride, hd, 0};
  HeadCopy v = k;
  v.in = proj_.f() + h * hd + kv;
  v.rope_dims = 0;
  v.out_offset = kv;
  CopyHeadsWithRope({q, k, v}, rows, rope, kStream);
  RETURN_IF_ERROR(RunPlan(layer));
  RETURN_IF_ERROR(Linear(attended_.get(), w.o_proj, rows, x_.f(), 1.0f));
  return absl::OkStatus();
}

absl::Status CudaEngine::RunPlan(int64_t layer) {
  const void* const* layer_caches = slice_caches_.as<const void*>() + layer * cached_slices_;
  const CacheTensorMap* layer_maps = plan_.needs_cache_maps() ? slice_maps_.layer(layer) : nullptr;
  return plan_.Run(query_.get(), layer_caches, layer_maps, attended_.get(), type_, kStream);
}

absl::Status CudaEngine::MlaAttention(int64_t layer, const LayerWeights& w, int64_t rows) {
  const int64_t h = config_.num_attention_heads, rank = config_.kv_lora_rank, rope_dims = config_.qk_rope_head_dim;
  const int64_t nope = config_.qk_nope_head_dim, v_dim = config_.v_head_dim, ql = config_.q_lora_rank;
  const int64_t qk = nope + rope_dims, width = w.in_proj.rows, q_width = ql > 0 ? ql : h * qk;
  const int64_t key = layout_.key_dim;
  RETURN_IF_ERROR(Linear(normed_.get(), w.in_proj, rows, proj_.f()));
  if (w.in_bias.bytes() > 0) AddBias(proj_.f(), w.in_bias.f(), rows, width, kStream);
  const float* queries = proj_.f();
  int64_t queries_ld = width;
  if (ql > 0) {
    // transformers builds q_a_layernorm with its class default eps (1e-6), like kv_a_layernorm.
    RmsNorm(proj_.f(), width, w.q_a_norm.f(), rows, ql, 1e-6f, normed_.get(), type_, ql, kStream);
    RETURN_IF_ERROR(Linear(normed_.get(), w.q_b, rows, q_.f()));
    queries = q_.f();
    queries_ld = h * qk;
  }
  const RopeArgs rope = Rope();
  const LatentAppend latent{proj_.f() + q_width, width, w.kv_a_norm.f(), static_cast<float>(config_.kv_a_layernorm_eps),
                            rank, rope_dims, row_caches_.as<void*>() + layer * rows, type_, layout_.token_stride};
  if (cached_slices_ == 0) {
    CopyHeadsWithRope({}, rows, rope, kStream, &latent);
  } else {
    // The absorbed query per head: [W_UK^T q_nope | RoPE(q_pe) | zero padding].
    const HeadCopy pe{queries + nope, queries_ld, qk, h, rope_dims, 0, rope_dims, query_.get(), nullptr, type_, h * key, 0,
                      key, rank};
    const HeadCopy qn{queries, queries_ld, qk, h, nope, 0, 0, q_nope_.get(), nullptr, type_, h * nope, 0, nope, 0};
    if (nope > 0) {
      CopyHeadsWithRope({pe, qn}, rows, rope, kStream, &latent);
      RETURN_IF_ERROR(Gemm(blas_, {q_nope_.get(), type_, h * nope, nope}, {w.uk_t.data.get(), type_, nope, rank * nope},
                           rows, nope, rank, {query_.get(), type_, h * key, key}, 0.0f, h));
    } else {
      CopyHeadsWithRope({pe}, rows, rope, kStream, &latent);
    }
    RETURN_IF_ERROR(RunPlan(layer));
    // Per head: values = W_UV (latent mix).
    const void* w_uv = static_cast<const char*>(w.kv_b.data.get()) + MatrixBytes(nope, rank, type_);
    RETURN_IF_ERROR(Gemm(blas_, {attended_.get(), type_, h * rank, rank}, {w_uv, type_, rank, (nope + v_dim) * rank},
                         rows, rank, v_dim, {values_.get(), type_, h * v_dim, v_dim}, 0.0f, h));
  }
  // After the absorbed path, whose value GEMM also fills (unused) prompt rows.
  if (!prompts_.empty()) RETURN_IF_ERROR(MlaPromptAttention(layer, w, queries, queries_ld, rows));
  RETURN_IF_ERROR(Linear(values_.get(), w.o_proj, rows, x_.f(), 1.0f));
  if (w.o_bias.bytes() > 0) AddBias(x_.f(), w.o_bias.f(), rows, config_.hidden_size, kStream);
  return absl::OkStatus();
}

absl::Status CudaEngine::Mlp(const LayerWeights& w, int64_t rows) {
  const int64_t f = config_.intermediate_size;
  RETURN_IF_ERROR(Linear(normed_.get(), w.gate_up, rows, gate_up_.f()));
  SiluMul(gate_up_.f(), rows, f, act_.get(), type_, kStream);
  return Linear(act_.get(), w.down, rows, x_.f(), 1.0f);
}

absl::Status CudaEngine::PlanStep(const std::vector<AttentionSlice>& slices, const std::vector<CudaSequence*>& owners,
                                  int64_t layers) {
  prompts_.clear();
  prompt_bytes_ = 0;
  int64_t rows = 0;
  std::vector<AttentionSlice> cached;
  std::vector<bool> via_prompt_path;
  for (size_t i = 0; i < slices.size(); ++i) {
    rows = std::max<int64_t>(rows, slices[i].row_begin + slices[i].count);
    via_prompt_path.push_back(TakePromptPath(slices[i], *owners[i]));
    if (!via_prompt_path.back()) cached.push_back(slices[i]);
  }
  cached_slices_ = static_cast<int64_t>(cached.size());
  std::vector<int32_t> positions(static_cast<size_t>(rows));
  for (const AttentionSlice& s : slices) {
    for (int32_t t = 0; t < s.count; ++t) positions[static_cast<size_t>(s.row_begin + t)] = s.start_position + t;
  }
  // Per layer, each row's cache and each cached slice's (layer-major so a layer's table is contiguous).
  std::vector<void*> row_caches(static_cast<size_t>(layers * rows)), slice_caches;
  for (int64_t l = 0; l < layers; ++l) {
    for (size_t i = 0; i < slices.size(); ++i) {
      if (!via_prompt_path[i]) slice_caches.push_back(owners[i]->layer(l));
      for (int32_t t = 0; t < slices[i].count; ++t) {
        row_caches[static_cast<size_t>(l * rows + slices[i].row_begin + t)] = owners[i]->layer(l);
      }
    }
  }
  RETURN_IF_ERROR(positions_.Upload(positions.data(), positions.size() * sizeof(int32_t)));
  if (rope_pairs_ > 0) {  // none for an MLA model without RoPE dims
    RETURN_IF_ERROR(rope_angles_.Reserve(static_cast<size_t>(rows * rope_pairs_) * sizeof(float2)));
    RopeAngles(inv_freq_.f(), rope_pairs_, positions_.as<int32_t>(), rows, rope_scale_, rope_angles_.as<float2>(),
               kStream);
  }
  RETURN_IF_ERROR(row_caches_.Upload(row_caches.data(), row_caches.size() * sizeof(void*)));
  RETURN_IF_ERROR(slice_caches_.Upload(slice_caches.data(), slice_caches.size() * sizeof(void*)));
  if (!cached.empty()) RETURN_IF_ERROR(plan_.Build(cached, layout_, type_, kStream));
  if (!cached.empty() && plan_.needs_cache_maps()) {
    std::vector<int64_t> capacities;
    for (size_t i = 0; i < slices.size(); ++i) {
      if (!via_prompt_path[i]) capacities.push_back(owners[i]->capacity());
    }
    RETURN_IF_ERROR(slice_maps_.Update(slice_caches, capacities, layout_.token_stride, type_));
  }
  return PlanPrompts(rows);
}

absl::Status CudaEngine::ReserveActivations(int64_t rows) {
  const int64_t d = config_.hidden_size, h = config_.num_attention_heads;
  const int64_t widest_in = mla() ? std::max(d, config_.q_lora_rank) : d;
  const int64_t q_cols = mla() ? h * (config_.qk_nope_head_dim + config_.qk_rope_head_dim) : 0;
  const int64_t value_cols = mla() ? h * config_.v_head_dim : 0;
  RETURN_IF_ERROR(x_.Reserve(MatrixBytes(rows, d, GpuType::kF32)));
  RETURN_IF_ERROR(normed_.Reserve(MatrixBytes(rows, widest_in, type_)));
  RETURN_IF_ERROR(proj_.Reserve(MatrixBytes(rows, widest_proj_, GpuType::kF32)));
  RETURN_IF_ERROR(q_.Reserve(MatrixBytes(rows, q_cols, GpuType::kF32)));
  RETURN_IF_ERROR(q_nope_.Reserve(MatrixBytes(rows, mla() ? h * config_.qk_nope_head_dim : 0, type_)));
  RETURN_IF_ERROR(query_.Reserve(MatrixBytes(rows, h * layout_.query_head_stride, type_)));
  RETURN_IF_ERROR(attended_.Reserve(MatrixBytes(rows, h * layout_.value_dim, type_)));
  RETURN_IF_ERROR(values_.Reserve(MatrixBytes(rows, value_cols, type_)));
  RETURN_IF_ERROR(gate_up_.Reserve(MatrixBytes(rows, 2 * config_.intermediate_size, GpuType::kF32)));
  return act_.Reserve(MatrixBytes(rows, config_.intermediate_size, type_));
}

absl::Status CudaEngine::RunLayer(int64_t layer, const LayerWeights& w, int64_t rows) {
  const int64_t d = config_.hidden_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  RmsNorm(x_.f(), d, w.input_norm.f(), rows, d, eps, normed_.get(), type_, d, kStream);
  RETURN_IF_ERROR(mla() ? MlaAttention(layer, w, rows) : GqaAttention(layer, w, rows));
  RmsNorm(x_.f(), d, w.post_norm.f(), rows, d, eps, normed_.get(), type_, d, kStream);
  return Mlp(w, rows);
}

absl::Status CudaEngine::Forward(absl::Span<const ForwardStep> steps, std::vector<std::vector<float>>* logits) {
  RETURN_IF_ERROR(ValidateForwardSteps(
      steps, config_, [](const Sequence* s) { return dynamic_cast<const CudaSequence*>(s) != nullptr; }));
  const int64_t d = config_.hidden_size, layers = config_.num_hidden_layers, vocab = config_.vocab_size;
  std::vector<int32_t> ids, out_rows;
  std::vector<int64_t> first_out_row;  // per step, then one past the last
  std::vector<AttentionSlice> slices;
  std::vector<CudaSequence*> owners;
  // A step that fails leaves every sequence as it was, its reserved tokens released.
  bool committed = false;
  const absl::Cleanup release = [&] {
    if (!committed) {
      for (CudaSequence* s : owners) s->Truncate(s->length());
    }
  };
  for (const ForwardStep& step : steps) {
    auto* seq = static_cast<CudaSequence*>(step.sequence);
    const int64_t count = static_cast<int64_t>(step.tokens.size());
    owners.push_back(seq);
    RETURN_IF_ERROR(seq->Reserve(count));
    slices.push_back({static_cast<int32_t>(ids.size()), static_cast<int32_t>(count), static_cast<int32_t>(seq->length())});
    first_out_row.push_back(static_cast<int64_t>(out_rows.size()));
    for (int64_t t = 0; t < count; ++t) {
      if (step.all_logits || t == count - 1) out_rows.push_back(static_cast<int32_t>(ids.size()));
      ids.push_back(step.tokens[static_cast<size_t>(t)]);
    }
  }
  const int64_t rows = static_cast<int64_t>(ids.size()), n_out = static_cast<int64_t>(out_rows.size());
  first_out_row.push_back(n_out);
  RETURN_IF_ERROR(ids_.Upload(ids.data(), ids.size() * sizeof(int32_t)));
  RETURN_IF_ERROR(out_rows_.Upload(out_rows.data(), out_rows.size() * sizeof(int32_t)));
  RETURN_IF_ERROR(PlanStep(slices, owners, layers));
  RETURN_IF_ERROR(ReserveActivations(rows));
  RETURN_IF_ERROR(picked_.Reserve(MatrixBytes(n_out, d, GpuType::kF32)));
  RETURN_IF_ERROR(logits_.Reserve(MatrixBytes(n_out, vocab, GpuType::kF32)));

  EmbeddingGather(embed_.data.get(), embed_.type, ids_.as<int32_t>(), rows, d, x_.f(), kStream);
  for (int64_t l = 0; l < layers; ++l) RETURN_IF_ERROR(RunLayer(l, layers_[static_cast<size_t>(l)], rows));
  // Only the rows whose logits are wanted go through the final norm and the LM head.
  EmbeddingGather(x_.get(), GpuType::kF32, out_rows_.as<int32_t>(), n_out, d, picked_.f(), kStream);
  RmsNorm(picked_.f(), d, final_norm_.f(), n_out, d, static_cast<float>(config_.rms_norm_eps), normed_.get(), type_, d,
          kStream);
  RETURN_IF_ERROR(Linear(normed_.get(), lm_head_, n_out, logits_.f()));
  CUDA_RETURN_IF_ERROR(cudaGetLastError());
  RETURN_IF_ERROR(DeliverOutputs(steps, first_out_row, logits));
  for (size_t i = 0; i < steps.size(); ++i) owners[i]->Commit(static_cast<int64_t>(steps[i].tokens.size()));
  committed = true;
  return absl::OkStatus();
}

absl::Status CudaEngine::DeliverOutputs(absl::Span<const ForwardStep> steps, const std::vector<int64_t>& first_out_row,
                                        std::vector<std::vector<float>>* logits) {
  const int64_t vocab = config_.vocab_size, steps_count = static_cast<int64_t>(steps.size());
  std::vector<int32_t> greedy_rows;
  bool any_logits = false;
  for (int64_t i = 0; i < steps_count; ++i) {
    if (steps[i].greedy_token != nullptr) {
      greedy_rows.push_back(static_cast<int32_t>(first_out_row[i]));
    } else {
      any_logits = true;
    }
  }
  // The greedy ids and the sampled sequences' logits all land in pinned memory before one sync.
  if (!greedy_rows.empty()) {
    const size_t bytes = greedy_rows.size() * sizeof(int32_t);
    RETURN_IF_ERROR(greedy_rows_.Upload(greedy_rows.data(), bytes, kStream));
    RETURN_IF_ERROR(greedy_tokens_.Reserve(bytes));
    RETURN_IF_ERROR(host_greedy_tokens_.Reserve(bytes));
    GreedyTokens(logits_.f(), vocab, greedy_rows_.as<int32_t>(), static_cast<int64_t>(greedy_rows.size()),
                 greedy_tokens_.as<int32_t>(), kStream);
    CUDA_RETURN_IF_ERROR(cudaGetLastError());
    CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host_greedy_tokens_.as<int32_t>(), greedy_tokens_.get(), bytes,
                                         cudaMemcpyDeviceToHost, kStream));
  }
  if (any_logits) {
    RETURN_IF_ERROR(host_logits_.Reserve(static_cast<size_t>(first_out_row.back() * vocab) * sizeof(float)));
    for (int64_t i = 0; i < steps_count; ++i) {
      if (steps[i].greedy_token != nullptr) continue;
      const int64_t offset = first_out_row[i] * vocab;
      const size_t bytes = static_cast<size_t>((first_out_row[i + 1] - first_out_row[i]) * vocab) * sizeof(float);
      CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(host_logits_.as<float>() + offset, logits_.f() + offset, bytes,
                                           cudaMemcpyDeviceToHost, kStream));
    }
  }
  if (!greedy_rows.empty() || any_logits) CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(kStream));
  // Resized, not reassigned: a caller that passes the same vectors every step keeps their memory.
  logits->resize(steps.size());
  const float* host = host_logits_.as<float>();
  // Batch 32 x a 128K vocabulary is 16 MB a step: copied out by every core, not one.
#pragma omp parallel for schedule(static) if (any_logits && first_out_row.back() * vocab >= (int64_t{1} << 21))
  for (int64_t i = 0; i < steps_count; ++i) {
    if (steps[i].greedy_token != nullptr) {
      (*logits)[i].clear();
    } else {
      (*logits)[i].assign(host + first_out_row[i] * vocab, host + first_out_row[i + 1] * vocab);
    }
  }
  const int32_t* tokens = host_greedy_tokens_.as<int32_t>();
  for (int64_t i = 0, k = 0; i < steps_count; ++i) {
    if (steps[i].greedy_token != nullptr) *steps[i].greedy_token = tokens[k++];
  }
  return absl::OkStatus();
}

absl::Status CudaEngine::RunBlock(const float* hidden, absl::Span<const int64_t> counts, float* out) {
  if (layers_.size() != 1) return absl::FailedPreconditionError("RunBlock needs an engine made by LoadBlock");
  std::vector<std::unique_ptr<CudaSequence>> sequences;
  std::vector<CudaSequence*> owners;
  std::vector<AttentionSlice> slices;
  int64_t rows = 0;
  for (const int64_t count : counts) {
    sequences.push_back(std::make_unique<CudaSequence>(1, layout_.token_stride, static_cast<int64_t>(Bytes(type_)), budget_));
    RETURN_IF_ERROR(sequences.back()->Reserve(count));
    owners.push_back(sequences.back().get());
    slices.push_back({static_cast<int32_t>(rows), static_cast<int32_t>(count), 0});
    rows += count;
  }
  const size_t bytes = MatrixBytes(rows, config_.hidden_size, GpuType::kF32);
  RETURN_IF_ERROR(PlanStep(slices, owners, 1));
  RETURN_IF_ERROR(ReserveActivations(rows));
  RETURN_IF_ERROR(x_.Upload(hidden, bytes));
  RETURN_IF_ERROR(RunLayer(0, layers_[0], rows));
  CUDA_RETURN_IF_ERROR(cudaGetLastError());
  CUDA_RETURN_IF_ERROR(cudaMemcpy(out, x_.f(), bytes, cudaMemcpyDeviceToHost));
  return absl::OkStatus();
}

bool CudaDeviceAvailable(std::string* why) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0) {
    if (why) *why = error != cudaSuccess ? cudaGetErrorString(error) : "no CUDA device";
    return false;
  }
  return true;
}

namespace {

absl::StatusOr<GpuType> ChooseType(const std::string& requested, const TensorStore& store) {
  if (requested == "f32") return GpuType::kF32;
  if (requested == "bf16") return GpuType::kBF16;
  if (requested == "f16") return GpuType::kF16;
  if (requested != "auto") {
    return absl::InvalidArgumentError(fmt::format("gpu dtype must be auto, f32, bf16 or f16, got \"{}\"", requested));
  }
  const TensorView* embed = store.Find("model.embed_tokens.weight");
  if (embed != nullptr && embed->dtype == DType::kBF16) return GpuType::kBF16;
  if (embed != nullptr && embed->dtype == DType::kF16) return GpuType::kF16;
  return GpuType::kF32;
}

}  // namespace

absl::Status CheckCudaShape(const ModelConfig& config, GpuType type) {
  const bool mla = config.architecture == Architecture::kDeepseekV3;
  if (!mla && (config.head_dim % 2 != 0 || (type != GpuType::kF32 && config.head_dim % 16 != 0))) {
    return absl::InvalidArgumentError(fmt::format(
        "the CUDA engine needs head_dim a multiple of 16 for {} (2 for f32), got {}; try --gpu-dtype f32",
        Name(type), config.head_dim));
  }
  if (mla && config.qk_rope_head_dim % 2 != 0) {
    return absl::InvalidArgumentError(fmt::format("qk_rope_head_dim {} is odd", config.qk_rope_head_dim));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Engine>> CreateCudaEngine(const ModelConfig& config, const TensorStore& store,
                                                         const EngineOptions& options) {
  ASSIGN_OR_RETURN(const GpuType type, ChooseType(options.gpu_dtype, store));
  RETURN_IF_ERROR(CheckCudaShape(config, type));
  std::string why;
  if (!CudaDeviceAvailable(&why)) return absl::FailedPreconditionError(fmt::format("no CUDA device: {}", why));
  auto engine = std::make_unique<CudaEngine>(config, type, options.max_kv_bytes);
  RETURN_IF_ERROR(engine->Load(store));
  return engine;
}

absl::Status ExtendForBenchmark(Sequence* sequence, int64_t length) {
  auto* seq = dynamic_cast<CudaSequence*>(sequence);
  if (seq == nullptr) return absl::InvalidArgumentError("not a CUDA engine's sequence");
  if (length <= seq->length()) return absl::OkStatus();
  const int64_t extra = length - seq->length();
  RETURN_IF_ERROR(seq->Reserve(extra));
  seq->Commit(extra);
  return absl::OkStatus();
}

void RegisterCudaBackend() {
  RegisterGpuBackend({"cuda", CudaDeviceAvailable,
                      [](const ModelConfig& c) {
                        return c.architecture == Architecture::kLlama || c.architecture == Architecture::kDeepseekV3;
                      },
                      CreateCudaEngine, CreateCudaBlockRunner});
}

}  // namespace transmla::cuda
