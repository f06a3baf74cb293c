#ifndef TRANSMLA_CORE_TOKENIZER_PRE_TOKENIZER_H_
#define TRANSMLA_CORE_TOKENIZER_PRE_TOKENIZER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/regex_split.h"

namespace transmla {

// One step of HF's normalizer chain, applied to each text segment between added tokens.
struct NormalizerStep {
  enum class Kind {
    kPrepend,  // `content` is put in front of a non-empty segment
    kReplace,  // every `pattern` becomes `content`
  };
  Kind kind = Kind::kReplace;
  std::string pattern;
  std::string content;
};

// Applies `steps` to `text` in order.
void Normalize(const std::vector<NormalizerStep>& steps, std::string* text);

// One step of HF's pre-tokenizer chain: each step splits every current piece further.
struct PreTokenizerStep {
  enum class Kind {
    kSplit,      // regex Split with behavior Isolated
    kByteLevel,  // optional leading space, optional GPT-2 regex split, bytes -> GPT-2 alphabet
    kMetaspace,  // ' ' -> replacement, optional prefix, optional split before each replacement
  };
  enum class Prepend { kAlways, kFirst, kNever };
  Kind kind = Kind::kSplit;
  std::optional<RegexSplitter> regex;  // kSplit; kByteLevel when use_regex
  bool add_prefix_space = false;       // kByteLevel
  std::string replacement;             // kMetaspace
  Prepend prepend = Prepend::kAlways;  // kMetaspace
  bool split = true;                   // kMetaspace
};

// Splits a normalized segment into the words the subword model sees. `at_input_start` says the
// segment begins at offset 0 of the input (Metaspace's "first" scheme prefixes only that one).
std::vector<std::string> PreTokenize(const std::vector<PreTokenizerStep>& steps, std::string segment,
                                     bool at_input_start);

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_PRE_TOKENIZER_H_
