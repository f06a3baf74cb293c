#ifndef TRANSMLA_CORE_TOKENIZER_VOCAB_H_
#define TRANSMLA_CORE_TOKENIZER_VOCAB_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace transmla {

// Hash for unordered_map<std::string, ...> that also accepts std::string_view keys in find(), so
// lookups of substrings need no allocation.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// A subword vocabulary: piece text <-> id. Ids need not be dense (holes have empty pieces).
class Vocab {
 public:
  Vocab() = default;
  explicit Vocab(std::vector<std::string> pieces);

  // Adds or replaces the piece for `id`, growing the table as needed.
  void Set(int32_t id, std::string piece);

  std::optional<int32_t> Find(std::string_view piece) const {
    auto it = ids_.find(piece);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  // The piece for `id`, or nullptr when `id` is out of range or a hole.
  const std::string* Piece(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= pieces_.size() || !present_[id]) return nullptr;
    return &pieces_[id];
  }
  int64_t size() const { return static_cast<int64_t>(pieces_.size()); }

  // Id of SentencePiece's byte token "<0xNN>" for `byte`, when the vocabulary has it.
  std::optional<int32_t> ByteTokenId(uint8_t byte) const;

 private:
  std::vector<std::string> pieces_;
  std::vector<bool> present_;
  std::unordered_map<std::string, int32_t, StringViewHash, std::equal_to<>> ids_;
};

// "<0xNN>" with upper-case hex digits, as SentencePiece and HF byte_fallback spell byte tokens.
std::string ByteTokenPiece(uint8_t byte);

}  // namespace transmla

#endif  // TRANSMLA_CORE_TOKENIZER_VOCAB_H_
