#ifndef TRANSMLA_CORE_TOKENIZER_SPM_SCORE_MODEL_H_
#define TRANSMLA_CORE_TOKENIZER_SPM_SCORE_MODEL_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/subword_model.h"
#include "core/tokenizer/vocab.h"

namespace transmla {

// SentencePiece BPE driven by piece scores instead of a merge list, as llama.cpp's
// llm_tokenizer_spm runs it on GGUF vocabularies: start from one symbol per UTF-8 character,
// repeatedly merge the adjacent pair whose concatenation is a vocabulary piece with the highest
// score (leftmost on ties), then emit each final symbol's id; characters that are not pieces
// become their "<0xNN>" byte tokens (unk when those are missing too).
class SpmScoreModel : public SubwordModel {
 public:
  // `scores[i]` belongs to piece i; sizes must match (InvalidArgument otherwise).
  static absl::StatusOr<SpmScoreModel> Create(Vocab vocab, std::vector<float> scores, std::optional<int32_t> unk_id);

  void Encode(std::string_view word, std::vector<int32_t>* ids) const override;
  const Vocab& vocab() const override { return vocab_; }

 private:
  struct Symbol {
    int32_t prev;
    int32_t next;
    size_t offset;  // into the word
    size_t length;  // 0 once merged into its left neighbour
  };
  SpmScoreModel(Vocab vocab, std::vector<float> scores, std::optional<int32_t> unk_id);
  void EmitBytes(std::string_view text, std::vector<int32_t>* ids) const;

  Vocab vocab_;
  std::vector<float> scores_;
  std::optional<int32_t> unk_id_;
  std::array<int32_t, 256> byte_ids_;  // -1 where "<0xNN>" is not in the vocabulary
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_SPM_SCORE_MODEL_H_
