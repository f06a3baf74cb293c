#ifndef TRANSMLA_CORE_TOKENIZER_PIPELINE_TOKENIZER_H_
#define TRANSMLA_CORE_TOKENIZER_PIPELINE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/added_tokens.h"
#include "core/tokenizer/decoder.h"
#include "core/tokenizer/pre_tokenizer.h"
#include "core/tokenizer/subword_model.h"
#include "core/tokenizer/tokenizer.h"

namespace transmla {

// The stages of an HF-style tokenizer: split on added tokens, normalize each remaining segment,
// pre-tokenize it into words, run the subword model on each word; decode by mapping ids to
// pieces and running the decoder chain.
struct TokenizerStages {
  std::unique_ptr<SubwordModel> model;
  AddedTokens added_tokens;
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> pre_tokenizer;
  std::vector<DecoderStep> decoder;
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
};

class PipelineTokenizer : public Tokenizer {
 public:
  // `stages.model` must be set.
  explicit PipelineTokenizer(TokenizerStages stages);

  std::vector<int32_t> Encode(std::string_view text, bool add_bos, bool parse_special = true) const override;
  std::string Decode(absl::Span<const int32_t> ids, bool skip_special = false) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  std::optional<int32_t> bos_id() const override { return stages_.bos_id; }
  std::optional<int32_t> eos_id() const override { return stages_.eos_id; }
  std::optional<int32_t> TokenToId(std::string_view token) const override;

 private:
  TokenizerStages stages_;
  int64_t vocab_size_;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_PIPELINE_TOKENIZER_H_
