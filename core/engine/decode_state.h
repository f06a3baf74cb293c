#ifndef TRANSMLA_CORE_ENGINE_DECODE_STATE_H_
#define TRANSMLA_CORE_ENGINE_DECODE_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "core/engine/engine.h"
#include "core/engine/generate.h"
#include "core/engine/sampler.h"
#include "core/tokenizer/tokenizer.h"

namespace transmla {

// One sequence's generation between engine steps: its tokens, sampler, text, stop handling and
// finish reason. Generate()/GenerateBatch() and the InferenceService's continuous-batching loop
// both drive it, so their results agree token for token.
class DecodeState {
 public:
  // `params` must have passed ValidateSamplingParams; `prompt` must not be empty.
  DecodeState(std::vector<int32_t> prompt, const SamplingParams& params);

  // The engine step that advances this sequence in `cache`: its pending tokens, and for greedy
  // decoding a request for the engine's greedy token, kept here (so this state must stay where it
  // is until the next Step).
  ForwardStep NextStep(Sequence* cache);

  // Takes the next token, the engine's greedy pick when NextStep asked for one (`logits` are then
  // empty and unused), else a sample of the last position's `logits`, and records it. Returns the
  // text that may be streamed now (held back while it could still become a stop string or is an
  // incomplete UTF-8 character; all of it once done).
  std::string Step(const Tokenizer& tokenizer, absl::Span<const float> logits) { return Step(&tokenizer, logits); }
  // Without a tokenizer (a checkpoint that has none, in benchmarks): token ids only; no EOS, text
  // or stop strings.
  std::string Step(const Tokenizer* tokenizer, absl::Span<const float> logits);

  // Ends the sequence early (finish_reason "cancelled").
  void Cancel();

  bool done() const { return done_; }
  int32_t last_token() const { return last_token_; }
  const GenerationResult& result() const { return result_; }
  GenerationResult& mutable_result() { return result_; }

 private:
  // The tokens the engine has not seen yet, given that its cache holds `cached` of them.
  absl::Span<const int32_t> Pending(int64_t cached) const;
  // The last few prompt + generated tokens before generated token `generated`.
  absl::Span<const int32_t> ContextBefore(size_t generated) const;
  // result_.text after a new generated token, decoding only the tokens not yet settled.
  void UpdateText(const Tokenizer& tokenizer);

  SamplingParams params_;
  Sampler sampler_;
  std::vector<int32_t> history_;  // prompt + generated
  // The generated text is settled_text_ (that of the first settled_ generated tokens) + the
  // decode of the rest after the tokens before them, whose own decode is settled_head_.
  size_t settled_ = 0;
  std::string settled_text_;
  std::optional<std::string> settled_head_;
  GenerationResult result_;
  size_t streamed_ = 0;  // bytes of text already returned by Step
  int32_t last_token_ = -1;
  int32_t greedy_token_ = -1;
  bool greedy_pending_ = false;
  bool done_ = false;
};

// Steps each of `states` with its `logits` (DecodeState::Step), on all cores when more than one of
// them samples: a sequence's sampling and text are its own (0.8 ms a token for a 128K vocabulary).
// Returns each one's text to stream.
std::vector<std::string> StepEach(absl::Span<DecodeState* const> states, const Tokenizer* tokenizer,
                                  const std::vector<std::vector<float>>& logits);

}  // namespace transmla

#endif  // TRANSMLA_CORE_ENGINE_DECODE_STATE_H_
