#include "core/eval/ab_benchmark.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "core/engine/decode_state.h"
#include "core/eval/agreement.h"
#include "core/eval/perplexity.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

LatencyStats Percentiles(std::vector<double> samples) {
  LatencyStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) { return samples[static_cast<size_t>(q * static_cast<double>(samples.size() - 1) + 0.5)]; };
  s.p50 = at(0.50);
  s.p90 = at(0.90);
  s.p99 = at(0.99);
  return s;
}

int64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

std::vector<std::vector<int32_t>> RandomPrompts(int count, int length, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(vocab - 1));  // past BOS/EOS/UNK
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(count));
  for (auto& p : prompts) {
    for (int i = 0; i < length; ++i) p.push_back(token(rng));
  }
  return prompts;
}

absl::Status CheckSpec(const AbBenchmarkSpec& spec, const LoadedModel& model) {
  const int64_t context = model.engine->config().max_position_embeddings;
  if (spec.prompts.empty() && (spec.batch < 1 || spec.prompt_length < 1)) {
    return absl::InvalidArgumentError(fmt::format(
        "batch and prompt_length must be >= 1 without prompts, got {} and {}", spec.batch, spec.prompt_length));
  }
  if (spec.output_length < 1) {
    return absl::InvalidArgumentError(fmt::format("output_length must be >= 1, got {}", spec.output_length));
  }
  if (spec.prompts.empty() && spec.prompt_length + spec.output_length > context) {
    return absl::InvalidArgumentError(fmt::format("prompt_length + output_length ({}) exceeds the context of {}",
                                                  spec.prompt_length + spec.output_length, context));
  }
  for (int length : spec.context_lengths) {
    if (length < 1 || length + spec.context_steps > context) {
      return absl::InvalidArgumentError(fmt::format(
          "context_lengths: {} (+{} timed steps) must be in [1, {}]", length, spec.context_steps, context));
    }
  }
  return absl::OkStatus();
}

class ModelRun {
 public:
  ModelRun(LoadedModel& model, const std::string& name, const AbBenchmarkSpec& spec,
           const std::function<bool(const AbBenchmarkProgress&)>& progress)
      : model_(model), spec_(spec), progress_(progress) {
    result_.name = name;
    result_.architecture = model.engine->config().model_type;
    result_.kv_bytes_per_token = model.engine->KvBytesPerToken();
  }

  absl::StatusOr<ModelBenchmark> Run() {
    std::vector<std::vector<int32_t>> prompts;
    if (spec_.prompts.empty()) {
      prompts = RandomPrompts(spec_.batch, spec_.prompt_length, model_.engine->config().vocab_size, spec_.seed);
    } else {
      for (const std::string& p : spec_.prompts) prompts.push_back(model_.tokenizer->Encode(p, /*add_bos=*/true));
    }
    RETURN_IF_ERROR(WarmUp(prompts.front()));
    RETURN_IF_ERROR(Generate(prompts));
    for (int length : spec_.context_lengths) {
      const std::vector<std::vector<int32_t>> long_prompts =
          RandomPrompts(std::max(1, static_cast<int>(prompts.size())), length, model_.engine->config().vocab_size,
                        spec_.seed + static_cast<uint64_t>(length));
      ASSIGN_OR_RETURN(ContextPoint point, AtContext(long_prompts, length));
      result_.contexts.push_back(point);
    }
    result_.peak_memory_bytes = PeakRssBytes();
    return result_;
  }

 private:
  absl::Status Report(const std::string& stage, int64_t done, int64_t total) {
    if (progress_ && !progress_({result_.name + ": " + stage, done, total})) {
      return absl::CancelledError("benchmark cancelled");
    }
    return absl::OkStatus();
  }

  // The first Forward pays for thread start-up and first-touch allocations; keep it out of the numbers.
  absl::Status WarmUp(const std::vector<int32_t>& prompt) {
    if (prompt.empty()) return absl::InvalidArgumentError("prompts: an empty prompt");
    std::unique_ptr<Sequence> cache = model_.engine->NewSequence();
    std::vector<std::vector<float>> logits;
    return model_.engine->Forward({{cache.get(), prompt, false}}, &logits);
  }

  // Prefill of every prompt in one step, then output_length decode steps of the whole batch.
  absl::Status Generate(const std::vector<std::vector<int32_t>>& prompts) {
    SamplingParams params = spec_.sampling;
    params.max_tokens = spec_.output_length;
    params.ignore_eos = true;
    params.stop.clear();
    params.stop_token_ids.clear();
    RETURN_IF_ERROR(ValidateSamplingParams(params));
    std::vector<DecodeState> states;
    std::vector<std::unique_ptr<Sequence>> caches;
    int64_t prompt_tokens = 0;
    for (const auto& p : prompts) {
      if (p.empty()) return absl::InvalidArgumentError("prompts: an empty prompt");
      states.emplace_back(p, params);
      caches.push_back(model_.engine->NewSequence());
      prompt_tokens += static_cast<int64_t>(p.size());
    }
    std::vector<double> step_seconds, first_token;
    double decode_seconds = 0;
    int64_t decoded = 0;
    std::vector<std::vector<float>> logits;
    const Clock::time_point start = Clock::now();
    for (int step = 0; step < spec_.output_length; ++step) {
      std::vector<ForwardStep> steps;
      std::vector<DecodeState*> stepped;
      for (size_t i = 0; i < states.size(); ++i) {
        steps.push_back(states[i].NextStep(caches[i].get()));
        stepped.push_back(&states[i]);
      }
      const Clock::time_point t = Clock::now();
      RETURN_IF_ERROR(model_.engine->Forward(steps, &logits));
      StepEach(stepped, model_.tokenizer.get(), logits);
      const double seconds = Seconds(t);
      if (step == 0) {
        result_.prefill_tokens_per_s = static_cast<double>(prompt_tokens) / seconds;
        first_token.assign(states.size(), Seconds(start));
      } else {
        step_seconds.push_back(seconds);
        decode_seconds += seconds;
        decoded += static_cast<int64_t>(states.size());
      }
      int64_t kv = 0;
      for (const auto& c : caches) kv += c->kv_bytes();
      result_.peak_kv_bytes = std::max(result_.peak_kv_bytes, kv);
      RETURN_IF_ERROR(Report("generate", step + 1, spec_.output_length));
    }
    result_.decode_tokens_per_s = decode_seconds > 0 ? static_cast<double>(decoded) / decode_seconds : 0;
    result_.step_latency = Percentiles(step_seconds);
    result_.time_to_first_token = Percentiles(first_token);
    return absl::OkStatus();
  }

  // Decode speed with `length` tokens already cached per sequence.
  absl::StatusOr<ContextPoint> AtContext(const std::vector<std::vector<int32_t>>& prompts, int length) {
    std::vector<std::unique_ptr<Sequence>> caches;
    std::vector<ForwardStep> steps;
    for (const auto& p : prompts) {
      caches.push_back(model_.engine->NewSequence());
      steps.push_back({caches.back().get(), p, false});
    }
    std::vector<std::vector<float>> logits;
    RETURN_IF_ERROR(model_.engine->Forward(steps, &logits));
    std::vector<int32_t> next(prompts.size());
    std::vector<double> step_seconds;
    double total = 0;
    for (int step = 0; step < spec_.context_steps; ++step) {
      steps.clear();
      for (size_t i = 0; i < prompts.size(); ++i) {
        const auto& row = logits[i];
        next[i] = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
        steps.push_back({caches[i].get(), absl::MakeConstSpan(&next[i], 1), false});
      }
      const Clock::time_point t = Clock::now();
      RETURN_IF_ERROR(model_.engine->Forward(steps, &logits));
      step_seconds.push_back(Seconds(t));
      total += step_seconds.back();
      RETURN_IF_ERROR(Report(fmt::format("context {}", length), step + 1, spec_.context_steps));
    }
    int64_t kv = 0;
    for (const auto& c : caches) kv += c->kv_bytes();
    result_.peak_kv_bytes = std::max(result_.peak_kv_bytes, kv);
    ContextPoint point;
    point.context_length = length;
    point.decode_tokens_per_s = static_cast<double>(prompts.size() * spec_.context_steps) / total;
    point.step_latency = Percentiles(step_seconds);
    return point;
  }

  LoadedModel& model_;
  const AbBenchmarkSpec& spec_;
  const std::function<bool(const AbBenchmarkProgress&)>& progress_;
  ModelBenchmark result_;
};

}  // namespace

absl::StatusOr<AbBenchmarkResult> RunAbBenchmark(LoadedModel& a, const std::string& name_a, LoadedModel& b,
                                                 const std::string& name_b, const AbBenchmarkSpec& spec,
                                                 const std::function<bool(const AbBenchmarkProgress&)>& progress) {
  // Synthetic prompts need no tokenizer (checkpoints made for benchmarking often have none).
  const bool needs_tokenizer = !spec.prompts.empty() || !spec.quality_text.empty();
  if (needs_tokenizer && (a.tokenizer == nullptr || b.tokenizer == nullptr)) {
    return absl::FailedPreconditionError(
        "prompts and quality text need a tokenizer.json in both models; without one, use synthetic prompts "
        "(batch and prompt length) and no quality text");
  }
  if (a.engine->config().vocab_size != b.engine->config().vocab_size) {
    return absl::InvalidArgumentError(fmt::format("the models' vocabularies differ ({} vs {} tokens)",
                                                  a.engine->config().vocab_size, b.engine->config().vocab_size));
  }
  RETURN_IF_ERROR(CheckSpec(spec, a));
  RETURN_IF_ERROR(CheckSpec(spec, b));
  AbBenchmarkResult result;
  ASSIGN_OR_RETURN(result.a, ModelRun(a, name_a, spec, progress).Run());
  ASSIGN_OR_RETURN(result.b, ModelRun(b, name_b, spec, progress).Run());
  if (!spec.quality_text.empty()) {
    PerplexityOptions options;
    options.limit = spec.quality_documents;
    options.max_len = std::min<int64_t>(spec.quality_max_length, a.engine->config().max_position_embeddings);
    ASSIGN_OR_RETURN(const auto sequences, MakeEvalSequences(*a.tokenizer, spec.quality_text, options));
    if (sequences.empty()) return absl::InvalidArgumentError("quality_text holds no document of 2 or more tokens");
    bool cancelled = false;
    ASSIGN_OR_RETURN(const AgreementResult agreement,
                     CompareModels(*a.engine, *b.engine, sequences, 16, [&](int64_t done, int64_t total) {
                       if (progress && !progress({"quality", done, total})) cancelled = true;
                     }));
    if (cancelled) return absl::CancelledError("benchmark cancelled");
    result.has_quality = true;
    result.a.perplexity = agreement.reference_ppl;
    result.b.perplexity = agreement.candidate_ppl;
    result.mean_kl = agreement.mean_kl;
    result.top1_agreement = agreement.top1_agreement;
    result.positions = agreement.positions;
  }
  return result;
}

}  // namespace transmla
