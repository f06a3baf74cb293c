#ifndef TRANSMLA_CORE_TOKENIZER_UTF8_H_
#define TRANSMLA_CORE_TOKENIZER_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace transmla {

// Length in bytes of the well-formed UTF-8 character starting at `text[pos]`, or 1 when the bytes
// there are not well-formed UTF-8 (so that invalid input is walked one byte at a time and can be
// handed to byte fallback instead of being lost). Requires pos < text.size().
size_t Utf8CharLength(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of `code_point` (must be a Unicode scalar value) to `out`.
void AppendUtf8(char32_t code_point, std::string* out);

// True when `bytes` is entirely well-formed UTF-8.
bool IsValidUtf8(std::string_view bytes);

// Converts `bytes` to valid UTF-8 the way Rust's String::from_utf8_lossy does (and therefore HF
// `tokenizers`): each maximal ill-formed subpart becomes one U+FFFD.
std::string Utf8Lossy(std::string_view bytes);

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_UTF8_H_
