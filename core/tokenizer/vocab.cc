#include "core/tokenizer/vocab.h"

#include "fmt/format.h"

namespace transmla {

Vocab::Vocab(std::vector<std::string> pieces) {
  pieces_.reserve(pieces.size());
  ids_.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) Set(static_cast<int32_t>(i), std::move(pieces[i]));
}

void Vocab::Set(int32_t id, std::string piece) {
  if (static_cast<size_t>(id) >= pieces_.size()) {
    pieces_.resize(id + 1);
    present_.resize(id + 1, false);
  }
  // First id wins when a piece is listed twice, as in HF's vocab map (one id per string).
  ids_.emplace(piece, id);
  pieces_[id] = std::move(piece);
  present_[id] = true;
}

std::optional<int32_t> Vocab::ByteTokenId(uint8_t byte) const { return Find(ByteTokenPiece(byte)); }

std::string ByteTokenPiece(uint8_t byte) { return fmt::format("<0x{:02X}>", byte); }

}  // namespace transmla
