#ifndef TRANSMLA_CORE_ENGINE_CUDA_CUDA_MODEL_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CUDA_MODEL_H_

#include <cublas_v2.h>

#include <memory>
#include <string>
#include <vector>

#include "core/engine/cpu/kv_cache.h"
#include "core/engine/cuda/attention.h"
#include "core/engine/cuda/cache_tensor_map.h"
#include "core/engine/cuda/device_buffer.h"
#include "core/engine/cuda/gemm.h"
#include "core/engine/cuda/gpu_type.h"
#include "core/engine/cuda/kernels.h"
#include "core/engine/cuda/pinned_buffer.h"
#include "core/engine/engine.h"
#include "core/io/tensor_store.h"

namespace transmla::cuda {

// A row-major [rows x cols] weight on the device.
struct GpuMatrix {
  DeviceBuffer data;
  GpuType type = GpuType::kF32;
  int64_t rows = 0, cols = 0;
  Operand operand() const { return {data.get(), type, cols, 0}; }
};

struct LayerWeights {
  DeviceBuffer input_norm, post_norm;  // float32
  // The layer's first projection, fused: GQA [q; k; v]; MLA [q_proj or q_a; kv_a_proj_with_mqa].
  GpuMatrix in_proj;
  DeviceBuffer in_bias;  // float32, empty without biases
  GpuMatrix q_b;         // MLA with q_lora_rank
  DeviceBuffer q_a_norm, kv_a_norm;
  GpuMatrix kv_b;        // MLA: per head W_UK [nope x rank] then W_UV [v x rank]
  // MLA: per head W_UK^T [rank x nope], so that the absorbed queries' product is a Linear layer's
  // (SkinnyGemm at decode). Not counted in the parameters: a step reads it instead of W_UK.
  GpuMatrix uk_t;
  GpuMatrix o_proj;
  DeviceBuffer o_bias;
  GpuMatrix gate_up, down;  // [gate; up]
};

class CudaSequence;

// InvalidArgument when the CUDA kernels cannot run `config`'s shape in `type`.
absl::Status CheckCudaShape(const ModelConfig& config, GpuType type);

// The layout of the MLA prompt path's expanded keys and values (cuda_mla_prompt.cc).
AttentionLayout MlaPromptLayout(const ModelConfig& config, GpuType type, float scale);

class CudaEngine : public Engine {
 public:
  CudaEngine(const ModelConfig& config, GpuType type, int64_t max_kv_bytes);
  ~CudaEngine() override;

  absl::Status Load(const TensorStore& store);

  // Calibration: loads block `index` (model.layers.<index>.*) alone, without embedding, final norm
  // or LM head; the engine can then only RunBlock.
  absl::Status LoadBlock(const TensorStore& store, int64_t index);
  // Runs the loaded block on host hidden states: `hidden` holds the rows of the sequences end to
  // end (counts[i] rows of sequence i, hidden_size floats each), each run as a fresh prefill from
  // position 0; `out` (the same size) receives the block's output.
  absl::Status RunBlock(const float* hidden, absl::Span<const int64_t> counts, float* out);

  const ModelConfig& config() const override { return config_; }
  std::string device() const override;
  int64_t KvBytesPerToken() const override {
    return config_.num_hidden_layers * layout_.token_stride * static_cast<int64_t>(Bytes(type_));
  }
  int64_t NumParameters() const override { return parameters_; }
  std::string WeightDType() const override { return Name(type_); }
  int64_t WeightBytes() const override { return weight_bytes_; }
  int64_t WeightBytesReadPerStep() const override {
    return weight_bytes_ - embed_.rows * embed_.cols * static_cast<int64_t>(Bytes(embed_.type));
  }
  std::unique_ptr<Sequence> NewSequence() override;
  absl::Status Forward(absl::Span<const ForwardStep> steps, std::vector<std::vector<float>>* logits) override;

 private:
  bool mla() const { return config_.architecture == Architecture::kDeepseekV3; }
  // The cuBLAS handle and the RoPE frequencies.
  absl::Status InitDevice();
  absl::Status LoadLayer(const TensorStore& store, int64_t index, LayerWeights* w);
  absl::Status UploadMatrix(const TensorStore& store, const std::vector<std::string>& names, int64_t rows_each_sum,
                            int64_t cols, GpuMatrix* out);
  // The named vectors end to end (`size` values), after `leading_zeros` zeros.
  absl::Status UploadVector(const TensorStore& store, const std::vector<std::string>& names, int64_t size,
                            DeviceBuffer* out, int64_t leading_zeros = 0);
  absl::Status LoadAttention(const TensorStore& store, const std::string& prefix, LayerWeights* w);
  // The attention block of one layer: from the normed input (in the GEMM type) to its o_proj added
  // into the residual stream.
  absl::Status GqaAttention(int64_t layer, const LayerWeights& w, int64_t rows);
  absl::Status MlaAttention(int64_t layer, const LayerWeights& w, int64_t rows);
  // plan_ over this step's cached slices at `layer`: query_ -> attended_.
  absl::Status RunPlan(int64_t layer);
  // The MLA prompt path (cuda_mla_prompt.cc): whether a slice takes it (then it joins prompts_), its
  // plan for the step, and its attention, writing the prompt rows of values_.
  bool TakePromptPath(const AttentionSlice& slice, const CudaSequence& sequence);
  absl::Status PlanPrompts(int64_t rows);
  absl::Status MlaPromptAttention(int64_t layer, const LayerWeights& w, const float* queries, int64_t queries_ld,
                                  int64_t rows);
  absl::Status Mlp(const LayerWeights& w, int64_t rows);
  // Uploads a step's positions and cache tables (sequence i's new rows are slices[i], its cache
  // owners[i] with `layers` layers), picks the MLA prompt path's slices and plans the attention.
  absl::Status PlanStep(const std::vector<AttentionSlice>& slices, const std::vector<CudaSequence*>& owners,
                        int64_t layers);
  // Grows the per-layer scratch to `rows` rows (after PlanStep, which says whether prompts need theirs).
  absl::Status ReserveActivations(int64_t rows);
  // One decoder block on the residual stream x_, with the caches of table layer `layer`.
  absl::Status RunLayer(int64_t layer, const LayerWeights& w, int64_t rows);
  absl::Status Linear(const void* x, const GpuMatrix& w, int64_t rows, float* y, float beta = 0.0f);
  // A step's results from logits_ (its rows from first_out_row[i], one past the last at the end):
  // greedy steps' tokens picked on the device, the other steps' logits copied out.
  absl::Status DeliverOutputs(absl::Span<const ForwardStep> steps, const std::vector<int64_t>& first_out_row,
                              std::vector<std::vector<float>>* logits);
  // RoPE of this step's rows: rotate-half for Llama, interleaved for DeepSeek.
  RopeArgs Rope() const;

  ModelConfig config_;
  GpuType type_;
  std::shared_ptr<cpu::KvBudget> budget_;
  cublasHandle_t blas_ = nullptr;
  int device_ = 0;
  int64_t parameters_ = 0, weight_bytes_ = 0;
  int64_t cached_slices_ = 0;  // this step's slices that attend through plan_
  int64_t widest_proj_ = 0;  // rows of the widest fused first projection
  float rope_scale_ = 1.0f;  // longrope's attention factor
  int64_t rope_pairs_ = 0;    // frequencies of inv_freq_
  AttentionLayout layout_;
  GpuMatrix embed_, lm_head_;
  DeviceBuffer final_norm_, inv_freq_, staging_;
  std::vector<LayerWeights> layers_;
  AttentionPlan plan_;
  struct PromptSlice {
    AttentionSlice slice;
    const CudaSequence* sequence;
    size_t offset;  // of its expanded keys in expanded_
  };
  AttentionLayout prompt_layout_;
  std::vector<PromptSlice> prompts_;
  size_t prompt_bytes_ = 0;
  AttentionPlan prompt_plan_;
  DeviceBuffer prompt_caches_, expanded_, prompt_query_;
  // Per-step tables and scratch, grown as needed.
  DeviceBuffer ids_, positions_, rope_angles_, row_caches_, slice_caches_, out_rows_, greedy_rows_, greedy_tokens_;
  CacheMapTable slice_maps_;
  PinnedBuffer host_logits_, host_greedy_tokens_;
  DeviceBuffer x_, normed_, proj_, q_, q_nope_, query_, attended_, values_, gate_up_, act_, picked_, logits_;
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CUDA_MODEL_H_
