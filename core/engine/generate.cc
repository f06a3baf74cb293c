#include "core/engine/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/engine/sampler.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Decoded generated text: the decode of prompt + generated minus the decode of the prompt, so
// that a leading space the decoder would strip at the start of a text is kept (as vLLM does).
std::string DecodeContinuation(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                               const std::vector<int32_t>& generated) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), generated.begin(), generated.end());
  const std::string full = tokenizer.Decode(all, /*skip_special=*/true);
  const std::string head = tokenizer.Decode(prompt, /*skip_special=*/true);
  if (full.compare(0, head.size(), head) == 0) return full.substr(head.size());
  return tokenizer.Decode(generated, /*skip_special=*/true);
}

// Length of the longest suffix of `text` that could still grow into a stop string or is an
// incomplete UTF-8 character (decoded as U+FFFD); streaming holds it back.
size_t HeldBackSuffix(const std::string& text, const std::vector<std::string>& stops) {
  size_t held = 0;
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  if (text.size() >= kReplacement.size() && text.compare(text.size() - 3, 3, kReplacement) == 0) held = 3;
  for (const std::string& stop : stops) {
    if (stop.empty()) continue;
    for (size_t n = std::min(stop.size() - 1, text.size()); n > held; --n) {
      if (text.compare(text.size() - n, n, stop, 0, n) == 0) {
        held = n;
        break;
      }
    }
  }
  return held;
}

struct ActiveSequence {
  std::unique_ptr<Sequence> cache;
  std::vector<int32_t> history;  // prompt + generated
  Sampler sampler;
  GenerationResult result;
  size_t streamed = 0;  // bytes of text already passed to the callback
  bool done = false;
};

// Records `token` for `s`, updates its text, and decides whether it has finished.
void Advance(const Tokenizer& tokenizer, const SamplingParams& params, int32_t token, ActiveSequence* s,
             const TokenCallback& on_token) {
  const bool is_eos = !params.ignore_eos && tokenizer.eos_id().has_value() && token == *tokenizer.eos_id();
  const bool is_stop_id =
      is_eos || std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), token) !=
                    params.stop_token_ids.end();
  if (is_stop_id) {
    s->result.finish_reason = "stop";
    s->done = true;
  } else {
    s->history.push_back(token);
    s->result.token_ids.push_back(token);
    s->result.text = DecodeContinuation(tokenizer, s->result.prompt_ids, s->result.token_ids);
    for (const std::string& stop : params.stop) {
      const size_t at = s->result.text.find(stop);
      if (!stop.empty() && at != std::string::npos) {
        s->result.text.resize(at);
        s->result.finish_reason = "stop";
        s->done = true;
      }
    }
    if (!s->done && static_cast<int>(s->result.token_ids.size()) >= params.max_tokens) {
      s->result.finish_reason = "length";
      s->done = true;
    }
  }
  if (on_token) {
    const size_t visible = s->done ? s->result.text.size()
                                   : s->result.text.size() - HeldBackSuffix(s->result.text, params.stop);
    const std::string delta = visible > s->streamed ? s->result.text.substr(s->streamed, visible - s->streamed) : "";
    s->streamed = std::max(s->streamed, visible);
    if (!on_token(token, delta) && !s->done) {
      s->result.finish_reason = "cancelled";
      s->done = true;
    }
  }
}

absl::StatusOr<std::vector<GenerationResult>> RunGeneration(Engine& engine, const Tokenizer& tokenizer,
                                                            const std::vector<std::vector<int32_t>>& prompts,
                                                            const SamplingParams& params,
                                                            const TokenCallback& on_token) {
  RETURN_IF_ERROR(ValidateSamplingParams(params));
  const Clock::time_point start = Clock::now();
  std::vector<ActiveSequence> seqs;
  seqs.reserve(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) return absl::InvalidArgumentError(fmt::format("prompt {} is empty", i));
    SamplingParams own = params;
    if (params.seed) own.seed = *params.seed + i;  // distinct but reproducible streams
    seqs.push_back({engine.NewSequence(), prompts[i], Sampler(own), {}, 0, params.max_tokens == 0});
    seqs.back().result.prompt_ids = prompts[i];
    if (params.max_tokens == 0) seqs.back().result.finish_reason = "length";
  }

  bool first_step = true;
  std::vector<std::vector<float>> logits;
  while (true) {
    std::vector<ForwardStep> steps;
    std::vector<ActiveSequence*> owners;
    for (ActiveSequence& s : seqs) {
      if (s.done) continue;
      const int64_t cached = s.cache->length();
      steps.push_back({s.cache.get(), absl::MakeConstSpan(s.history).subspan(static_cast<size_t>(cached)), false});
      owners.push_back(&s);
    }
    if (steps.empty()) break;
    RETURN_IF_ERROR(engine.Forward(steps, &logits));
    for (size_t i = 0; i < owners.size(); ++i) {
      ActiveSequence& s = *owners[i];
      const int32_t token = s.sampler.Sample(logits[i], s.history);
      if (first_step) s.result.time_to_first_token_s = SecondsSince(start);
      Advance(tokenizer, params, token, &s, on_token);
    }
    first_step = false;
  }
  std::vector<GenerationResult> results;
  for (ActiveSequence& s : seqs) {
    s.result.total_time_s = SecondsSince(start);
    results.push_back(std::move(s.result));
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
