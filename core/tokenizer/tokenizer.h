#ifndef TRANSMLA_CORE_TOKENIZER_TOKENIZER_H_
#define TRANSMLA_CORE_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace transmla {

// Text <-> token ids, as Hugging Face `tokenizers` does it for the model families we run:
// SentencePiece-style BPE with byte fallback (Llama-2, Mistral, stories260K) and byte-level BPE
// with a regex pre-tokenizer (Llama-3, Qwen2). Immutable after construction; thread-safe.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes `text`. Added/special tokens written literally in the text are recognised as one id
  // when `parse_special` is true. `add_bos` prepends the BOS id (when the tokenizer has one).
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos, bool parse_special = true) const = 0;

  // Decodes ids to text the way `tokenizers` decodes: pieces (special tokens included) run through
  // the decoder chain; byte tokens that do not form UTF-8 become U+FFFD. `skip_special` drops the
  // tokens flagged special (BOS, EOS, <unk>, control tokens), like skip_special_tokens=True. Ids
  // outside the vocabulary are skipped.
  virtual std::string Decode(absl::Span<const int32_t> ids, bool skip_special = false) const = 0;

  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;
};

// Loads tokenizer.json (a file, or a directory holding one; tokenizer_config.json beside it, when
// present, names bos/eos; otherwise BOS is the post-processor template's first special token and
// EOS a well-known name such as </s> or <|end_of_text|>). Fails with NotFound when the file is
// missing, InvalidArgument for malformed JSON and for unsupported model/normalizer/pre-tokenizer/
// decoder types (WordPiece, Unigram, NFC, ...), naming them.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::filesystem::path& path);

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_TOKENIZER_H_
