#include "core/tokenizer/byte_level.h"

#include <array>
#include <cstdint>
#include <string>

#include "core/tokenizer/utf8.h"

namespace transmla {
namespace {

struct ByteAlphabet {
  std::array<std::string, 256> byte_to_chars;  // UTF-8 spelling of each byte's code point
  std::array<int16_t, 512> code_point_to_byte;  // every code point of the alphabet is < 512

  ByteAlphabet() {
    code_point_to_byte.fill(-1);
    char32_t next_unprintable = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = printable ? static_cast<char32_t>(b) : next_unprintable++;
      AppendUtf8(cp, &byte_to_chars[b]);
      code_point_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& Alphabet() {
  static const ByteAlphabet* alphabet = new ByteAlphabet();
  return *alphabet;
}

}  // namespace

void AppendByteLevelChars(std::string_view bytes, std::string* out) {
  const ByteAlphabet& alphabet = Alphabet();
  for (char c : bytes) out->append(alphabet.byte_to_chars[static_cast<uint8_t>(c)]);
}

bool AppendBytesOfByteLevelChars(std::string_view token, std::string* out) {
  const ByteAlphabet& alphabet = Alphabet();
  const size_t old_size = out->size();
  size_t pos = 0;
  while (pos < token.size()) {
    const uint8_t b0 = static_cast<uint8_t>(token[pos]);
    // The alphabet's code points are all below U+0200: one byte, or two with a C2..C7 lead.
    char32_t cp;
    if (b0 < 0x80) {
      cp = b0;
      pos += 1;
    } else if (b0 >= 0xC2 && b0 <= 0xC7 && pos + 1 < token.size() &&
               (static_cast<uint8_t>(token[pos + 1]) & 0xC0) == 0x80) {
      cp = ((b0 & 0x1F) << 6) | (static_cast<uint8_t>(token[pos + 1]) & 0x3F);
      pos += 2;
    } else {
      out->resize(old_size);
      return false;
    }
    const int16_t byte = alphabet.code_point_to_byte[cp];
    if (byte < 0) {
      out->resize(old_size);
      return false;
    }
    out->push_back(static_cast<char>(byte));
  }
  return true;
}

}  // namespace transmla
