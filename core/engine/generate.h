#ifndef TRANSMLA_CORE_ENGINE_GENERATE_H_
#define TRANSMLA_CORE_ENGINE_GENERATE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/tokenizer/tokenizer.h"

namespace transmla {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  std::optional<uint64_t> seed;
  int max_tokens = 16;
  std::vector<std::string> stop;          // stop strings; the text is cut before them
  std::vector<int32_t> stop_token_ids;    // in addition to EOS
  float repetition_penalty = 1.0f;        // 1: off (CTRL-style, as transformers applies it)
  bool ignore_eos = false;
};

// Fails with InvalidArgument naming the field: temperature < 0, top_p outside (0, 1], top_k < 0,
// max_tokens < 0, repetition_penalty <= 0.
absl::Status ValidateSamplingParams(const SamplingParams& params);

struct GenerationResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> token_ids;  // generated ids (a matched stop token id is not included)
  std::string text;                // decoded generated text (cut before a matched stop string)
  std::string finish_reason;       // "stop" or "length"
  double time_to_first_token_s = 0;
  double total_time_s = 0;
};

// Called after each generated token with the text delta it adds; return false to cancel (the
// result then ends with finish_reason "cancelled").
using TokenCallback = std::function<bool(int32_t token_id, const std::string& text_delta)>;

// Generates a continuation of each prompt, all decoding together in one batch. Greedy results
// equal those of generating each prompt alone.
absl::StatusOr<std::vector<GenerationResult>> GenerateBatch(Engine& engine, const Tokenizer& tokenizer,
                                                            const std::vector<std::vector<int32_t>>& prompts,
                                                            const SamplingParams& params);

// One prompt, with an optional streaming callback.
absl::StatusOr<GenerationResult> Generate(Engine& engine, const Tokenizer& tokenizer,
                                          const std::vector<int32_t>& prompt, const SamplingParams& params,
                                          const TokenCallback& on_token = nullptr);

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_GENERATE_H_
