#ifndef TRANSMLA_CORE_TOKENIZER_REGEX_SPLIT_H_
#define TRANSMLA_CORE_TOKENIZER_REGEX_SPLIT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace transmla {

// The regex used by GPT-2's ByteLevel pre-tokenizer (`use_regex: true`).
inline constexpr std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// A Unicode-aware regex (PCRE2 with UTF + UCP, JIT-compiled when available) that splits text the
// way HF's Split pre-tokenizer does with behavior "Isolated": every match is a piece and so is
// every stretch of text between matches. Immutable and safe to share across threads.
class RegexSplitter {
 public:
  // Compiles `pattern` (Oniguruma-compatible syntax as used in tokenizer.json: \p{L}, \p{N},
  // (?i:...), lookahead). Fails with InvalidArgument naming the pattern and PCRE2's message.
  static absl::StatusOr<RegexSplitter> Create(std::string_view pattern);

  // Appends the pieces of `text` to `pieces`, in order; their concatenation is `text`. Bytes that
  // are not valid UTF-8 never match, so they stay in the between-match pieces.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

 private:
  struct Compiled;
  explicit RegexSplitter(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}

  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_REGEX_SPLIT_H_
