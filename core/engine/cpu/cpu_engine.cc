#include "core/engine/cpu/cpu_engine.h"

#include <omp.h>

#include <algorithm>

#include "core/engine/cpu/weight_loader.h"
#include "core/engine/greedy_token.h"
#include "core/engine/step_validation.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cpu {

CpuEngine::CpuEngine(const ModelConfig& config, int64_t max_kv_bytes)
    : config_(config), budget_(std::make_shared<KvBudget>(max_kv_bytes)) {}

absl::StatusOr<std::unique_ptr<CpuEngine>> CpuEngine::Create(const ModelConfig& config, const TensorStore& store,
                                                             int64_t max_kv_bytes, bool absorbed_mla, int threads) {
  std::unique_ptr<CpuEngine> e(new CpuEngine(config, max_kv_bytes));
  e->threads_ = threads;
  const int64_t d = config.hidden_size;
  ASSIGN_OR_RETURN(e->embed_, LoadMatrix(store, "model.embed_tokens.weight", config.vocab_size, d));
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<DecoderLayer> layer, DecoderLayer::Load(config, store, i, absorbed_mla));
    e->layers_.push_back(std::move(layer));
  }
  ASSIGN_OR_RETURN(e->final_norm_, LoadVector(store, "model.norm.weight", d));
  // Some tied checkpoints still carry lm_head.weight; the config decides, as in transformers.
  if (!config.tie_word_embeddings) {
    ASSIGN_OR_RETURN(e->lm_head_, LoadMatrix(store, "lm_head.weight", config.vocab_size, d));
  }
  return e;
}

int64_t CpuEngine::KvBytesPerToken() const {
  int64_t values = 0;
  for (const auto& layer : layers_) values += layer->values_per_token();
  return values * static_cast<int64_t>(sizeof(float));
}

int64_t CpuEngine::NumParameters() const {
  int64_t n = embed_.size() + lm_head_.size() + final_norm_.size();
  for (const auto& layer : layers_) n += layer->num_parameters();
  return n;
}

std::unique_ptr<Sequence> CpuEngine::NewSequence() {
  // Every layer of one model stores the same row width.
  const int64_t width = layers_.empty() ? 0 : layers_.front()->values_per_token();
  return std::make_unique<KvCache>(static_cast<int64_t>(layers_.size()), width, budget_);
}

absl::Status CpuEngine::ValidateSteps(absl::Span<const ForwardStep> steps) const {
  return ValidateForwardSteps(steps, config_, [](const Sequence* s) { return dynamic_cast<const KvCache*>(s) != nullptr; });
}

absl::Status CpuEngine::Forward(absl::Span<const ForwardStep> steps, std::vector<std::vector<float>>* logits) {
  RETURN_IF_ERROR(ValidateSteps(steps));
  // OpenMP's thread count is per calling thread: set it in the thread that runs the steps (a
  // server's serving loop), not only in the one that loaded the model.
  if (threads_ > 0 && omp_get_max_threads() != threads_) omp_set_num_threads(threads_);
  std::vector<SequenceSlice> slices;
  int64_t rows = 0;
  for (const ForwardStep& step : steps) {
    auto* cache = static_cast<KvCache*>(step.sequence);
    const int64_t count = static_cast<int64_t>(step.tokens.size());
    absl::Status reserved = cache->Reserve(count);
    if (!reserved.ok()) {
      for (const SequenceSlice& s : slices) s.cache->Truncate(s.cache->length());
      return reserved;
    }
    slices.push_back({cache, rows, count, cache->length()});
    rows += count;
  }

  Mat hidden(rows, config_.hidden_size);
  for (size_t i = 0; i < steps.size(); ++i) {
    for (int64_t t = 0; t < slices[i].count; ++t) hidden.row(slices[i].row_begin + t) = embed_.row(steps[i].tokens[t]);
  }
  for (int64_t l = 0; l < static_cast<int64_t>(layers_.size()); ++l) layers_[l]->Forward(l, slices, &hidden);

  // Only the rows whose logits were asked for go through the final norm and the LM head.
  std::vector<int64_t> wanted;
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t first = steps[i].all_logits ? 0 : slices[i].count - 1;
    for (int64_t t = first; t < slices[i].count; ++t) wanted.push_back(slices[i].row_begin + t);
  }
  Mat selected(static_cast<int64_t>(wanted.size()), config_.hidden_size);
  for (size_t r = 0; r < wanted.size(); ++r) selected.row(r) = hidden.row(wanted[r]);
  Mat normed, out;
  RmsNorm(selected, final_norm_, static_cast<float>(config_.rms_norm_eps), &normed);
  Linear(normed, lm_head_.size() > 0 ? lm_head_ : embed_, nullptr, &out);

  logits->assign(steps.size(), {});
  int64_t r = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t n = steps[i].all_logits ? slices[i].count : 1;
    const float* first = out.row(r).data();
    if (steps[i].greedy_token != nullptr) {
      *steps[i].greedy_token = FirstMaximum(absl::MakeConstSpan(first, static_cast<size_t>(config_.vocab_size)));
    } else {
      (*logits)[i].assign(first, first + n * config_.vocab_size);
    }
    r += n;
    slices[i].cache->Commit(slices[i].count);
  }
  return absl::OkStatus();
}

}  // namespace transmla::cpu
