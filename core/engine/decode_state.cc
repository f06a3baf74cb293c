#include "core/engine/decode_state.h"

#include <algorithm>

namespace transmla {
namespace {

// Prompt tokens decoded ahead of the generated ones: enough for every decoder's context (a leading
// space stripped at the start of a text, byte tokens of one UTF-8 character), so that the whole
// prompt need not be decoded again at every step (0.3 ms a step for 8K tokens).
constexpr size_t kPromptContext = 16;

// Decoded generated text: the decode of the prompt's last tokens + generated minus the decode of
// those prompt tokens (`head`), so that a leading space the decoder would strip at the start of a
// text is kept (as vLLM does).
std::string DecodeContinuation(const Tokenizer& tokenizer, absl::Span<const int32_t> prompt_tail,
                               const std::string& head, const std::vector<int32_t>& generated) {
  std::vector<int32_t> all(prompt_tail.begin(), prompt_tail.end());
  all.insert(all.end(), generated.begin(), generated.end());
  const std::string full = tokenizer.Decode(all, /*skip_special=*/true);
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
    if (tokenizer != nullptr) {
      const absl::Span<const int32_t> prompt = result_.prompt_ids;
      const absl::Span<const int32_t> tail = prompt.subspan(prompt.size() - std::min(prompt.size(), kPromptContext));
      if (!prompt_head_) prompt_head_ = tokenizer->Decode(tail, /*skip_special=*/true);
      result_.text = DecodeContinuation(*tokenizer, tail, *prompt_head_, result_.token_ids);
    }
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

void DecodeState::Cancel() {
  result_.finish_reason = "cancelled";
  done_ = true;
}

}  // namespace transmla
