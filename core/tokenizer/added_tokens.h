#ifndef TRANSMLA_CORE_TOKENIZER_ADDED_TOKENS_H_
#define TRANSMLA_CORE_TOKENIZER_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace transmla {

// A token matched literally in the input before any normalization (tokenizer.json
// "added_tokens"): control tokens like <s> or <|begin_of_text|>, and user-added words.
struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;      // control token: skipped by Decode(skip_special), matched only when parse_special
  bool lstrip = false;       // the match swallows whitespace before it
  bool rstrip = false;       // the match swallows whitespace after it
  bool single_word = false;  // matches only when not inside a word
};

// A stretch of input: either text still to be tokenized (id < 0) or one added token.
struct TextSegment {
  std::string_view text;
  int32_t id = -1;
  size_t offset = 0;  // byte offset of `text` in the whole input
};

// The added tokens of a tokenizer, and the splitting of input text on them.
class AddedTokens {
 public:
  AddedTokens() = default;
  explicit AddedTokens(std::vector<AddedToken> tokens);

  // Splits `text` at every occurrence of an added token (leftmost match, longest on ties, as HF's
  // Aho-Corasick does). Special tokens are only recognised when `parse_special`; non-special
  // added tokens always are. Empty text segments are left out.
  std::vector<TextSegment> Split(std::string_view text, bool parse_special) const;

  // The added token with this id, or nullptr.
  const AddedToken* Find(int32_t id) const;
  const AddedToken* FindByContent(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // Length of the match of `token` at `pos` including stripped whitespace, start moved back by
  // lstrip in *start; 0 when it does not match there.
  size_t MatchAt(const AddedToken& token, std::string_view text, size_t pos, size_t* start) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  // For each first byte, indices of tokens starting with it, longest first.
  std::array<std::vector<size_t>, 256> by_first_byte_;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_ADDED_TOKENS_H_
