#ifndef TRANSMLA_CORE_EVAL_PERPLEXITY_H_
#define TRANSMLA_CORE_EVAL_PERPLEXITY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "core/tokenizer/tokenizer.h"

namespace transmla {

struct PerplexityOptions {
  // kDocuments: split on blank lines; each document is BOS + its tokens cut at max_len, and every
  // token after BOS is predicted. kWindows: the whole text as one token stream (BOS first) cut into
  // consecutive windows of max_len, each predicting its tokens after the first.
  enum class Mode { kDocuments, kWindows };
  Mode mode = Mode::kDocuments;
  int64_t max_len = 512;
  int64_t skip = 0;    // documents (or windows) skipped from the start
  int64_t limit = -1;  // documents (or windows) used; -1: all
  int64_t batch = 16;  // sequences per forward batch
  // Progress: (done, total) units.
  std::function<void(int64_t, int64_t)> on_progress;
};

struct PerplexityResult {
  int64_t tokens = 0;     // predicted tokens
  int64_t sequences = 0;  // documents or windows
  double mean_nll = 0;
  double ppl = 0;
};

// Splits `text` into documents on blank lines, trimmed, empties dropped.
std::vector<std::string_view> SplitDocuments(std::string_view text);

// Tokenised evaluation sequences for `text` under `options` (each begins with BOS).
absl::StatusOr<std::vector<std::vector<int32_t>>> MakeEvalSequences(const Tokenizer& tokenizer, std::string_view text,
                                                                    const PerplexityOptions& options);

// Mean negative log-likelihood (natural log) and perplexity of `engine` over `text`.
absl::StatusOr<PerplexityResult> ComputePerplexity(Engine& engine, const Tokenizer& tokenizer, std::string_view text,
                                                   const PerplexityOptions& options);

// The same over given token sequences (each predicts its tokens after the first); `options` gives
// the batch and progress only.
absl::StatusOr<PerplexityResult> ComputePerplexity(Engine& engine, const std::vector<std::vector<int32_t>>& sequences,
                                                   const PerplexityOptions& options);

}  // namespace transmla

#endif  // TRANSMLA_CORE_EVAL_PERPLEXITY_H_
