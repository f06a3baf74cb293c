#include "core/engine/decode_state.h"

#include <algorithm>

namespace transmla {
namespace {

// Tokens decoded ahead of the ones whose text is not settled yet: enough for every decoder's
// context (a leading space stripped at the start of a text, the byte tokens of one UTF-8
// character), so that a step decodes a bounded window instead of the whole prompt + generated
// text (0.9 ms a step at an 8K-token prompt, growing with every generated token).
constexpr size_t kContext = 16;

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD: an incomplete UTF-8 character

bool EndsWith(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The text `tokens` add after `context` (whose decode is `head`): the decode of both minus `head`,
// so that a leading space the decoder would strip at the start of a text is kept (as vLLM does).
std::string DecodeContinuation(const Tokenizer& tokenizer, absl::Span<const int32_t> context, const std::string& head,
                               absl::Span<const int32_t> tokens) {
  std::vector<int32_t> all(context.begin(), context.end());
  all.insert(all.end(), tokens.begin(), tokens.end());
  const std::string full = tokenizer.Decode(all, /*skip_special=*/true);
  if (full.compare(0, head.size(), head) == 0) return full.substr(head.size());
  return tokenizer.Decode(tokens, /*skip_special=*/true);
}

// Length of the longest suffix of `text` that could still grow into a stop string or is an
// incomplete UTF-8 character (decoded as U+FFFD); streaming holds it back.
size_t HeldBackSuffix(const std::string& text, const std::vector<std::string>& stops) {
  size_t held = EndsWith(text, kReplacement) ? kReplacement.size() : 0;
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

}  // namespace

DecodeState::DecodeState(std::vector<int32_t> prompt, const SamplingParams& params)
    : params_(params), sampler_(params), history_(std::move(prompt)) {
  result_.prompt_ids = history_;
  if (params_.max_tokens == 0) {
    result_.finish_reason = "length";
    done_ = true;
  }
}

absl::Span<const int32_t> DecodeState::Pending(int64_t cached) const {
  return absl::MakeConstSpan(history_).subspan(static_cast<size_t>(cached));
}

ForwardStep DecodeState::NextStep(Sequence* cache) {
  // Temperature 0 without a repetition penalty takes the first maximum: the engine can pick it.
  greedy_pending_ = params_.temperature <= 0.0f && params_.repetition_penalty == 1.0f;
  return {cache, Pending(cache->length()), false, greedy_pending_ ? &greedy_token_ : nullptr};
}

std::string DecodeState::Step(const Tokenizer* tokenizer, absl::Span<const float> logits) {
  const int32_t token = greedy_pending_ ? greedy_token_ : sampler_.Sample(logits, history_);
  greedy_pending_ = false;
  last_token_ = token;
  const bool is_eos =
      !params_.ignore_eos && tokenizer != nullptr && tokenizer->eos_id().has_value() && token == *tokenizer->eos_id();
  const bool is_stop_id =
      is_eos || std::find(params_.stop_token_ids.begin(), params_.stop_token_ids.end(), token) !=
                    params_.stop_token_ids.end();
  if (is_stop_id) {
    result_.finish_reason = "stop";
    done_ = true;
  } else {
    history_.push_back(token);
    result_.token_ids.push_back(token);
    if (tokenizer != nullptr) UpdateText(*tokenizer);
    for (const std::string& stop : params_.stop) {
      const size_t at = result_.text.find(stop);
      if (!stop.empty() && at != std::string::npos) {
        result_.text.resize(at);
        result_.finish_reason = "stop";
        done_ = true;
      }
    }
    if (!done_ && static_cast<int>(result_.token_ids.size()) >= params_.max_tokens) {
      result_.finish_reason = "length";
      done_ = true;
    }
  }
  const size_t visible = done_ ? result_.text.size() : result_.text.size() - HeldBackSuffix(result_.text, params_.stop);
  std::string delta = visible > streamed_ ? result_.text.substr(streamed_, visible - streamed_) : "";
  streamed_ = std::max(streamed_, visible);
  return delta;
}

absl::Span<const int32_t> DecodeState::ContextBefore(size_t generated) const {
  const size_t end = result_.prompt_ids.size() + generated, size = std::min(end, kContext);
  return absl::MakeConstSpan(history_).subspan(end - size, size);
}

void DecodeState::UpdateText(const Tokenizer& tokenizer) {
  if (!settled_head_) settled_head_ = tokenizer.Decode(ContextBefore(0), /*skip_special=*/true);
  const absl::Span<const int32_t> generated = result_.token_ids;
  result_.text = settled_text_ + DecodeContinuation(tokenizer, ContextBefore(settled_), *settled_head_,
                                                    generated.subspan(settled_));
  // Settle all but the last kContext tokens once twice that many are pending, if their text is a
  // prefix of the whole and does not end inside a character (else retry at the next step).
  if (generated.size() - settled_ < 2 * kContext) return;
  const size_t settle = generated.size() - kContext;
  std::string settled = settled_text_ + DecodeContinuation(tokenizer, ContextBefore(settled_), *settled_head_,
                                                           generated.subspan(settled_, settle - settled_));
  if (result_.text.compare(0, settled.size(), settled) != 0 || EndsWith(settled, kReplacement)) return;
  settled_text_ = std::move(settled);
  settled_ = settle;
  settled_head_ = tokenizer.Decode(ContextBefore(settled_), /*skip_special=*/true);
}

void DecodeState::Cancel() {
  result_.finish_reason = "cancelled";
  done_ = true;
}

std::vector<std::string> StepEach(absl::Span<DecodeState* const> states, const Tokenizer* tokenizer,
                                  const std::vector<std::vector<float>>& logits) {
  const int64_t count = static_cast<int64_t>(states.size());
  const int64_t sampling = std::count_if(logits.begin(), logits.begin() + count, [](const auto& l) { return !l.empty(); });
  std::vector<std::string> texts(states.size());
#pragma omp parallel for schedule(dynamic, 1) if (sampling > 1)
  for (int64_t i = 0; i < count; ++i) texts[i] = states[i]->Step(tokenizer, logits[i]);
  return texts;
}

}  // namespace transmla
