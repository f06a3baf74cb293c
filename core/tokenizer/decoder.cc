#include "core/tokenizer/decoder.h"

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/utf8.h"

namespace transmla {
namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

void ReplaceAll(std::string* text, std::string_view pattern, std::string_view content) {
  if (pattern.empty() || text->find(pattern) == std::string::npos) return;
  std::string out;
  out.reserve(text->size());
  size_t pos = 0;
  for (size_t hit; (hit = text->find(pattern, pos)) != std::string::npos; pos = hit + pattern.size()) {
    out.append(*text, pos, hit - pos).append(content);
  }
  out.append(*text, pos);
  *text = std::move(out);
}

std::optional<uint8_t> ParseByteToken(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return std::nullopt;
  int value = 0;
  for (char c : token.substr(3, 2)) {
    value *= 16;
    if (c >= '0' && c <= '9') value += c - '0';
    else if (c >= 'A' && c <= 'F') value += c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') value += c - 'a' + 10;
    else return std::nullopt;
  }
  return static_cast<uint8_t>(value);
}

std::vector<std::string> ByteFallback(std::vector<std::string> tokens) {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  std::string pending;  // bytes of the current run of byte tokens
  auto flush = [&] {
    if (pending.empty()) return;
    if (IsValidUtf8(pending)) {
      out.push_back(pending);
    } else {
      // HF gives up on the whole run: one U+FFFD per byte token.
      for (size_t i = 0; i < pending.size(); ++i) out.emplace_back(kReplacementChar);
    }
    pending.clear();
  };
  for (std::string& token : tokens) {
    if (std::optional<uint8_t> byte = ParseByteToken(token)) {
      pending.push_back(static_cast<char>(*byte));
    } else {
      flush();
      out.push_back(std::move(token));
    }
  }
  flush();
  return out;
}

void Strip(std::string* token, std::string_view content, int start, int stop) {
  if (content.empty()) return;
  size_t begin = 0;
  for (int i = 0; i < start && token->compare(begin, content.size(), content) == 0; ++i) begin += content.size();
  size_t end = token->size();
  for (int i = 0; i < stop && end >= begin + content.size() &&
                  token->compare(end - content.size(), content.size(), content) == 0;
       ++i) {
    end -= content.size();
  }
  *token = token->substr(begin, end - begin);
}

std::string ByteLevelDecode(const std::vector<std::string>& tokens) {
  std::string bytes;
  for (const std::string& token : tokens) {
    // A token spelled outside the alphabet (an added token, say) keeps its own bytes.
    if (!AppendBytesOfByteLevelChars(token, &bytes)) bytes.append(token);
  }
  return Utf8Lossy(bytes);
}

void MetaspaceDecode(std::vector<std::string>* tokens, std::string_view replacement, bool prepend) {
  for (size_t i = 0; i < tokens->size(); ++i) {
    // HF drops every replacement char of the first token, not only a leading one.
    ReplaceAll(&(*tokens)[i], replacement, i == 0 && prepend ? "" : " ");
  }
}

}  // namespace

std::string RunDecoders(const std::vector<DecoderStep>& steps, std::vector<std::string> tokens) {
  if (steps.empty()) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) joined.push_back(' ');
      joined += tokens[i];
    }
    return joined;
  }
  for (const DecoderStep& step : steps) {
    switch (step.kind) {
      case DecoderStep::Kind::kReplace:
        for (std::string& token : tokens) ReplaceAll(&token, step.pattern, step.content);
        break;
      case DecoderStep::Kind::kByteFallback:
        tokens = ByteFallback(std::move(tokens));
        break;
      case DecoderStep::Kind::kFuse: {
        std::string fused;
        for (const std::string& token : tokens) fused += token;
        tokens.assign(1, std::move(fused));
        break;
      }
      case DecoderStep::Kind::kStrip:
        for (std::string& token : tokens) Strip(&token, step.content, step.start, step.stop);
        break;
      case DecoderStep::Kind::kByteLevel:
        tokens.assign(1, ByteLevelDecode(tokens));
        break;
      case DecoderStep::Kind::kMetaspace:
        MetaspaceDecode(&tokens, step.pattern, step.prepend);
        break;
    }
  }
  std::string joined;
  for (const std::string& token : tokens) joined += token;
  return joined;
}

}  // namespace transmla
