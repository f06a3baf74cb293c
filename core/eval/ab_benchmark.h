#ifndef TRANSMLA_CORE_EVAL_AB_BENCHMARK_H_
#define TRANSMLA_CORE_EVAL_AB_BENCHMARK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/generate.h"
#include "core/engine/model_loader.h"

namespace transmla {

// The same workload for two models (an original and its conversion, say).
struct AbBenchmarkSpec {
  // Prompts generated from as one batch; empty: `batch` synthetic prompts of `prompt_length`
  // token ids drawn from `seed`.
  std::vector<std::string> prompts;
  int batch = 4;
  int prompt_length = 64;
  // Tokens each sequence generates (EOS is ignored so both models do the same work).
  int output_length = 32;
  SamplingParams sampling;
  // Context lengths at which decode speed is also measured (`batch` sequences of that many
  // tokens, then `context_steps` timed steps).
  std::vector<int> context_lengths;
  int context_steps = 16;
  // Quality on this text (documents separated by blank lines; empty: skipped), at most
  // `quality_documents` documents of at most `quality_max_length` tokens.
  std::string quality_text;
  int quality_documents = 64;
  int quality_max_length = 512;
  uint64_t seed = 1234;
};

struct LatencyStats {
  double p50 = 0, p90 = 0, p99 = 0;  // seconds
};

struct ContextPoint {
  int context_length = 0;
  double decode_tokens_per_s = 0;
  LatencyStats step_latency;
};

struct ModelBenchmark {
  std::string name;
  std::string architecture;
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;
  LatencyStats step_latency;         // one decode step of the whole batch
  LatencyStats time_to_first_token;  // per sequence: prefill and its first sampled token
  int64_t kv_bytes_per_token = 0;
  int64_t peak_kv_bytes = 0;
  int64_t peak_memory_bytes = 0;  // process high-water mark (RSS) after this model's run
  std::vector<ContextPoint> contexts;
  double perplexity = 0;  // on the quality text; 0 when none
};

struct AbBenchmarkResult {
  ModelBenchmark a, b;
  bool has_quality = false;
  double mean_kl = 0;         // KL(a || b) of next-token distributions, nats
  double top1_agreement = 0;  // fraction of positions with the same argmax
  int64_t positions = 0;
};

struct AbBenchmarkProgress {
  std::string stage;  // "a: generate", "b: context 512", "quality"
  int64_t done = 0;
  int64_t total = 0;
};

// Runs the workload on `a` then `b` and compares their quality. InvalidArgument naming the field
// for a bad spec (batch, lengths beyond a model's context, no prompts and no synthetic shape) or
// models with different vocabularies; Cancelled when `progress` returns false.
absl::StatusOr<AbBenchmarkResult> RunAbBenchmark(LoadedModel& a, const std::string& name_a, LoadedModel& b,
                                                 const std::string& name_b, const AbBenchmarkSpec& spec,
                                                 const std::function<bool(const AbBenchmarkProgress&)>& progress);

}  // namespace transmla

#endif  // TRANSMLA_CORE_EVAL_AB_BENCHMARK_H_
