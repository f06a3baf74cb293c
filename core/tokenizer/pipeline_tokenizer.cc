#include "core/tokenizer/pipeline_tokenizer.h"

#include <algorithm>

namespace transmla {

PipelineTokenizer::PipelineTokenizer(TokenizerStages stages) : stages_(std::move(stages)) {
  vocab_size_ = stages_.model->vocab().size();
  for (const AddedToken& token : stages_.added_tokens.tokens()) {
    vocab_size_ = std::max<int64_t>(vocab_size_, int64_t{token.id} + 1);
  }
}

std::vector<int32_t> PipelineTokenizer::Encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_bos && stages_.bos_id) ids.push_back(*stages_.bos_id);
  for (const TextSegment& segment : stages_.added_tokens.Split(text, parse_special)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    std::string normalized(segment.text);
    Normalize(stages_.normalizer, &normalized);
    if (normalized.empty()) continue;
    for (const std::string& word : PreTokenize(stages_.pre_tokenizer, std::move(normalized), segment.offset == 0)) {
      stages_.model->Encode(word, &ids);
    }
  }
  return ids;
}

std::string PipelineTokenizer::Decode(absl::Span<const int32_t> ids, bool skip_special) const {
  std::vector<std::string> pieces;
  pieces.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* added = stages_.added_tokens.Find(id)) {
      if (!(skip_special && added->special)) pieces.push_back(added->content);
    } else if (const std::string* piece = stages_.model->vocab().Piece(id)) {
      pieces.push_back(*piece);
    }
    // Ids outside the vocabulary are skipped, as HF does.
  }
  return RunDecoders(stages_.decoder, std::move(pieces));
}

std::optional<int32_t> PipelineTokenizer::TokenToId(std::string_view token) const {
  if (const AddedToken* added = stages_.added_tokens.FindByContent(token)) return added->id;
  return stages_.model->vocab().Find(token);
}

}  // namespace transmla
