#include "core/engine/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/engine/decode_state.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::StatusOr<std::vector<GenerationResult>> RunGeneration(Engine& engine, const Tokenizer& tokenizer,
                                                            const std::vector<std::vector<int32_t>>& prompts,
                                                            const SamplingParams& params,
                                                            const TokenCallback& on_token) {
  RETURN_IF_ERROR(ValidateSamplingParams(params));
  const Clock::time_point start = Clock::now();
  std::vector<DecodeState> states;
  std::vector<std::unique_ptr<Sequence>> caches;
  states.reserve(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) return absl::InvalidArgumentError(fmt::format("prompt {} is empty", i));
    SamplingParams own = params;
    if (params.seed) own.seed = *params.seed + i;  // distinct but reproducible streams
    states.emplace_back(prompts[i], own);
    caches.push_back(engine.NewSequence());
  }

  bool first_step = true;
  std::vector<std::vector<float>> logits;
  while (true) {
    std::vector<ForwardStep> steps;
    std::vector<DecodeState*> stepped;
    for (size_t i = 0; i < states.size(); ++i) {
      if (states[i].done()) continue;
      steps.push_back(states[i].NextStep(caches[i].get()));
      stepped.push_back(&states[i]);
    }
    if (steps.empty()) break;
    RETURN_IF_ERROR(engine.Forward(steps, &logits));
    const std::vector<std::string> deltas = StepEach(stepped, &tokenizer, logits);
    for (size_t k = 0; k < stepped.size(); ++k) {
      DecodeState& s = *stepped[k];
      if (first_step) s.mutable_result().time_to_first_token_s = SecondsSince(start);
      if (on_token && !on_token(s.last_token(), deltas[k]) && !s.done()) s.Cancel();
    }
    first_step = false;
  }
  std::vector<GenerationResult> results;
  for (DecodeState& s : states) {
    s.mutable_result().total_time_s = SecondsSince(start);
    results.push_back(std::move(s.mutable_result()));
  }
  return results;
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& p) {
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) {
    return absl::InvalidArgumentError(fmt::format("temperature must be >= 0, got {}", p.temperature));
  }
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return absl::InvalidArgumentError(fmt::format("top_p must be in (0, 1], got {}", p.top_p));
  }
  if (p.top_k < 0) return absl::InvalidArgumentError(fmt::format("top_k must be >= 0, got {}", p.top_k));
  if (p.max_tokens < 0) return absl::InvalidArgumentError(fmt::format("max_tokens must be >= 0, got {}", p.max_tokens));
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) {
    return absl::InvalidArgumentError(
        fmt::format("repetition_penalty must be > 0, got {}", p.repetition_penalty));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<GenerationResult>> GenerateBatch(Engine& engine, const Tokenizer& tokenizer,
                                                            const std::vector<std::vector<int32_t>>& prompts,
                                                            const SamplingParams& params) {
  return RunGeneration(engine, tokenizer, prompts, params, nullptr);
}

absl::StatusOr<GenerationResult> Generate(Engine& engine, const Tokenizer& tokenizer,
                                          const std::vector<int32_t>& prompt, const SamplingParams& params,
                                          const TokenCallback& on_token) {
  ASSIGN_OR_RETURN(std::vector<GenerationResult> results,
                   RunGeneration(engine, tokenizer, {prompt}, params, on_token));
  return std::move(results.front());
}

}  // namespace transmla
