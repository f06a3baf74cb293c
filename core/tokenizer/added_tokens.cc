#include "core/tokenizer/added_tokens.h"

#include <algorithm>
#include <cctype>

namespace transmla {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Word characters for single_word: ASCII alphanumerics, '_' and any non-ASCII byte (letters of
// other scripts are multi-byte).
bool IsWordByte(char c) {
  const auto b = static_cast<unsigned char>(c);
  return b >= 0x80 || std::isalnum(b) || c == '_';
}

}  // namespace

AddedTokens::AddedTokens(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_id_[tokens_[i].id] = i;
    if (tokens_[i].content.empty()) continue;
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& candidates : by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(),
                     [this](size_t a, size_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
  }
}

const AddedToken* AddedTokens::Find(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedTokens::FindByContent(std::string_view content) const {
  for (const AddedToken& token : tokens_) {
    if (token.content == content) return &token;
  }
  return nullptr;
}

size_t AddedTokens::MatchAt(const AddedToken& token, std::string_view text, size_t pos, size_t* start) const {
  if (text.compare(pos, token.content.size(), token.content) != 0) return 0;
  size_t end = pos + token.content.size();
  if (token.single_word) {
    if (pos > 0 && IsWordByte(text[pos - 1])) return 0;
    if (end < text.size() && IsWordByte(text[end])) return 0;
  }
  *start = pos;
  if (token.lstrip) {
    while (*start > 0 && IsSpace(text[*start - 1])) --*start;
  }
  if (token.rstrip) {
    while (end < text.size() && IsSpace(text[end])) ++end;
  }
  return end - *start;
}

std::vector<TextSegment> AddedTokens::Split(std::string_view text, bool parse_special) const {
  std::vector<TextSegment> segments;
  size_t text_start = 0;  // start of the pending plain-text segment
  size_t pos = 0;
  while (pos < text.size()) {
    bool matched = false;
    for (size_t index : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const AddedToken& token = tokens_[index];
      if (token.special && !parse_special) continue;
      size_t match_start = pos;
      const size_t length = MatchAt(token, text, pos, &match_start);
      if (length == 0) continue;
      const size_t match_end = match_start + length;
      match_start = std::max(match_start, text_start);  // lstrip cannot reach into an earlier token
      if (match_start > text_start) {
        segments.push_back({text.substr(text_start, match_start - text_start), -1, text_start});
      }
      segments.push_back({text.substr(match_start, match_end - match_start), token.id, match_start});
      pos = match_end;
      text_start = match_end;
      matched = true;
      break;
    }
    if (!matched) ++pos;
  }
  if (text_start < text.size()) segments.push_back({text.substr(text_start), -1, text_start});
  return segments;
}

}  // namespace transmla
