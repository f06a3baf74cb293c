#ifndef TRANSMLA_CORE_TOKENIZER_BPE_MODEL_H_
#define TRANSMLA_CORE_TOKENIZER_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tokenizer/subword_model.h"
#include "core/tokenizer/vocab.h"

namespace transmla {

struct BpeOptions {
  // Characters missing from the vocabulary become the "<0xNN>" tokens of their UTF-8 bytes.
  bool byte_fallback = false;
  // Consecutive unknown characters become one unk token instead of one each.
  bool fuse_unk = false;
  // A word that is itself in the vocabulary is emitted as is, without merging (Llama-3).
  bool ignore_merges = false;
  // Id for characters that are neither in the vocabulary nor byte-fallback-able; without one
  // such characters are dropped, as HF does.
  std::optional<int32_t> unk_id;
};

// Rank-based BPE exactly as HF `tokenizers` runs it: the word starts as one symbol per character,
// then the adjacent pair with the lowest merge rank (leftmost on ties) is merged until no pair of
// the merge list remains.
class BpeModel : public SubwordModel {
 public:
  // `merges` in priority order (rank = index); each side and their concatenation must be in
  // `vocab`, else InvalidArgument naming the merge.
  static absl::StatusOr<BpeModel> Create(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                                         BpeOptions options);

  void Encode(std::string_view word, std::vector<int32_t>* ids) const override;
  const Vocab& vocab() const override { return vocab_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    int32_t length;  // bytes of the word covered; 0 once merged into its left neighbour
  };

  BpeModel(Vocab vocab, BpeOptions options);
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  const Merge* FindMerge(int32_t left, int32_t right) const;
  void InitialSymbols(std::string_view word, std::vector<Symbol>* symbols) const;
  void MergeAll(std::vector<Symbol>* symbols) const;

  Vocab vocab_;
  BpeOptions options_;
  std::array<int32_t, 256> byte_ids_;  // -1 where "<0xNN>" is not in the vocabulary
  std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_BPE_MODEL_H_
