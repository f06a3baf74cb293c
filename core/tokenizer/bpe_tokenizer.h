#ifndef TRANSMLA_CORE_TOKENIZER_BPE_TOKENIZER_H_
#define TRANSMLA_CORE_TOKENIZER_BPE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/tokenizer.h"

namespace transmla {

// A SentencePiece vocabulary as GGUF or tokenizer.model hold it. Pieces spell spaces as "▁"
// (U+2581) and bytes as "<0xNN>".
struct SentencePieceVocab {
  std::vector<std::string> pieces;  // index = token id
  // Control tokens (<s>, </s>, <unk>, GGUF token type 3): recognised literally in text only when
  // Encode's parse_special is set, dropped by Decode(skip_special).
  std::vector<int32_t> special_ids;
  // User-defined tokens (GGUF token type 4): always recognised literally, never skipped.
  std::vector<int32_t> user_defined_ids;
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
  std::optional<int32_t> unk_id;
  // Prefix each text segment with "▁" (SentencePiece's add_dummy_prefix; GGUF
  // tokenizer.ggml.add_space_prefix, true unless stated).
  bool add_space_prefix = true;
};

// SentencePiece-style BPE with an explicit merge list (as in tokenizer.json): normalization
// prepends "▁" and turns ' ' into "▁"; BPE merges by rank (index in `merges`); characters outside
// the vocabulary fall back to "<0xNN>" byte tokens; decoding reverses all of it. Fails with
// InvalidArgument when a merge names a piece missing from the vocabulary or an id is out of range.
absl::StatusOr<std::unique_ptr<Tokenizer>> MakeSentencePieceBpeTokenizer(
    SentencePieceVocab vocab, const std::vector<std::pair<std::string, std::string>>& merges);

// The same tokenizer driven by piece scores instead of merges, as llama.cpp tokenizes GGUF
// vocabularies of type "llama" (llm_tokenizer_spm): the adjacent pair whose concatenation is a
// piece with the highest score merges first (leftmost on ties). `scores[i]` is piece i's score.
// Fails with InvalidArgument when sizes differ or an id is out of range.
absl::StatusOr<std::unique_ptr<Tokenizer>> MakeSentencePieceScoreTokenizer(SentencePieceVocab vocab,
                                                                           std::vector<float> scores);

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_BPE_TOKENIZER_H_
