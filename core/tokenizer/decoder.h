#ifndef TRANSMLA_CORE_TOKENIZER_DECODER_H_
#define TRANSMLA_CORE_TOKENIZER_DECODER_H_

#include <string>
#include <vector>

namespace transmla {

// One step of HF's decoder chain. Each step maps the list of token strings to a new list; the
// final list is concatenated.
struct DecoderStep {
  enum class Kind {
    kReplace,       // every occurrence of `pattern` in each token becomes `content`
    kByteFallback,  // runs of "<0xNN>" tokens become their bytes (U+FFFD per token when not UTF-8)
    kFuse,          // all tokens become one
    kStrip,         // removes up to `start` leading and `stop` trailing `content` from each token
    kByteLevel,     // GPT-2 alphabet back to bytes, whole list fused, invalid UTF-8 -> U+FFFD
    kMetaspace,     // `pattern` (the replacement char) becomes ' '; dropped in the first token when `prepend`
  };
  Kind kind = Kind::kFuse;
  std::string pattern;
  std::string content;
  int start = 0;
  int stop = 0;
  bool prepend = true;
};

// Runs `steps` over `tokens` and joins the result. Without steps, tokens are joined with ' ' as
// HF does for a tokenizer without a decoder.
std::string RunDecoders(const std::vector<DecoderStep>& steps, std::vector<std::string> tokens);

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_DECODER_H_
