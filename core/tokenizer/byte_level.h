#ifndef TRANSMLA_CORE_TOKENIZER_BYTE_LEVEL_H_
#define TRANSMLA_CORE_TOKENIZER_BYTE_LEVEL_H_

#include <string>
#include <string_view>

namespace transmla {

// GPT-2's byte-level alphabet: every byte maps to one printable code point (printable Latin-1
// bytes map to themselves, the rest to U+0100 onwards, so ' ' becomes 'Ġ' and '\n' 'Ċ'). Byte-level
// BPE vocabularies (GPT-2, Llama-3, Qwen2) are spelled in this alphabet.

// Appends the byte-level spelling of `bytes` (UTF-8) to `out`.
void AppendByteLevelChars(std::string_view bytes, std::string* out);

// Appends the bytes a byte-level spelled `token` stands for to `out`. Returns false (appending
// nothing) when some character of `token` is outside the alphabet; HF's ByteLevel decoder then
// keeps the token's own bytes, which the caller does.
bool AppendBytesOfByteLevelChars(std::string_view token, std::string* out);

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_BYTE_LEVEL_H_
