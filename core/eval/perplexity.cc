#include "core/eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla {
namespace {

bool IsBlankLine(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string_view Trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Sum of -log softmax(logits)[target] over rows, in double.
double SumNll(const std::vector<float>& logits, int64_t vocab, absl::Span<const int32_t> targets) {
  double total = 0;
  for (size_t r = 0; r < targets.size(); ++r) {
    const float* row = logits.data() + r * vocab;
    const float max_logit = *std::max_element(row, row + vocab);
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v] - max_logit));
    total += std::log(sum) + max_logit - row[targets[r]];
  }
  return total;
}

}  // namespace

std::vector<std::string_view> SplitDocuments(std::string_view text) {
  std::vector<std::string_view> docs;
  size_t doc_start = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, eol - pos);
    const bool at_end = eol >= text.size();
    if (IsBlankLine(line) || at_end) {
      const size_t doc_end = at_end ? text.size() : pos;
      const std::string_view doc = Trim(text.substr(doc_start, doc_end - doc_start));
      if (!doc.empty()) docs.push_back(doc);
      doc_start = eol + 1;
    }
    pos = eol + 1;
  }
  return docs;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> MakeEvalSequences(const Tokenizer& tokenizer, std::string_view text,
                                                                    const PerplexityOptions& options) {
  if (options.max_len < 2) return absl::InvalidArgumentError(fmt::format("max_len must be >= 2, got {}", options.max_len));
  if (options.skip < 0) return absl::InvalidArgumentError(fmt::format("skip must be >= 0, got {}", options.skip));
  if (options.limit < -1) return absl::InvalidArgumentError(fmt::format("limit must be >= -1, got {}", options.limit));
  if (!tokenizer.bos_id().has_value()) return absl::FailedPreconditionError("the tokenizer has no BOS token");
  const int32_t bos = *tokenizer.bos_id();
  std::vector<std::vector<int32_t>> units;
  if (options.mode == PerplexityOptions::Mode::kDocuments) {
    for (std::string_view doc : SplitDocuments(text)) {
      std::vector<int32_t> ids = tokenizer.Encode(doc, /*add_bos=*/true, /*parse_special=*/false);
      if (ids.empty() || ids.front() != bos) ids.insert(ids.begin(), bos);
      if (static_cast<int64_t>(ids.size()) > options.max_len) ids.resize(options.max_len);
      units.push_back(std::move(ids));
    }
  } else {
    std::vector<int32_t> stream = tokenizer.Encode(text, /*add_bos=*/true, /*parse_special=*/false);
    for (size_t begin = 0; begin + 1 < stream.size(); begin += options.max_len) {
      const size_t end = std::min(stream.size(), begin + static_cast<size_t>(options.max_len));
      units.emplace_back(stream.begin() + begin, stream.begin() + end);
    }
  }
  const size_t first = std::min(units.size(), static_cast<size_t>(options.skip));
  size_t last = units.size();
  if (options.limit >= 0) last = std::min(last, first + static_cast<size_t>(options.limit));
  std::vector<std::vector<int32_t>> selected;
  for (size_t i = first; i < last; ++i) {
    if (units[i].size() >= 2) selected.push_back(std::move(units[i]));
  }
  return selected;
}

absl::StatusOr<PerplexityResult> ComputePerplexity(Engine& engine, const Tokenizer& tokenizer, std::string_view text,
                                                   const PerplexityOptions& options) {
  ASSIGN_OR_RETURN(std::vector<std::vector<int32_t>> sequences, MakeEvalSequences(tokenizer, text, options));
  return ComputePerplexity(engine, sequences, options);
}

absl::StatusOr<PerplexityResult> ComputePerplexity(Engine& engine, const std::vector<std::vector<int32_t>>& sequences,
                                                   const PerplexityOptions& options) {
  if (options.batch < 1) return absl::InvalidArgumentError(fmt::format("batch must be >= 1, got {}", options.batch));
  if (sequences.empty()) return absl::InvalidArgumentError("no text to evaluate (no sequence of 2 or more tokens)");
  for (const std::vector<int32_t>& sequence : sequences) {
    if (sequence.size() < 2) return absl::InvalidArgumentError("every sequence needs 2 or more tokens");
  }
  const int64_t vocab = engine.config().vocab_size;
  PerplexityResult result;
  double total_nll = 0;
  const int64_t total = static_cast<int64_t>(sequences.size());
  for (int64_t begin = 0; begin < total; begin += options.batch) {
    const int64_t end = std::min(total, begin + options.batch);
    std::vector<std::unique_ptr<Sequence>> caches;
    std::vector<ForwardStep> steps;
    for (int64_t i = begin; i < end; ++i) {
      caches.push_back(engine.NewSequence());
      // The last token is only a target, never an input.
      steps.push_back({caches.back().get(), absl::MakeConstSpan(sequences[i]).first(sequences[i].size() - 1), true});
    }
    std::vector<std::vector<float>> logits;
    RETURN_IF_ERROR(engine.Forward(steps, &logits));
    for (int64_t i = begin; i < end; ++i) {
      const auto targets = absl::MakeConstSpan(sequences[i]).subspan(1);
      total_nll += SumNll(logits[i - begin], vocab, targets);
      result.tokens += static_cast<int64_t>(targets.size());
    }
    result.sequences = end;
    if (options.on_progress) options.on_progress(end, total);
  }
  result.mean_nll = total_nll / static_cast<double>(result.tokens);
  result.ppl = std::exp(result.mean_nll);
  return result;
}

}  // namespace transmla
