#include "core/tokenizer/spm_score_model.h"

#include <queue>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace transmla {
namespace {

// llama.cpp splits by the length the lead byte announces (not by validity), so do the same to
// produce the same symbols on malformed input.
size_t LeadByteLength(uint8_t lead) {
  static constexpr size_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

}  // namespace

SpmScoreModel::SpmScoreModel(Vocab vocab, std::vector<float> scores, std::optional<int32_t> unk_id)
    : vocab_(std::move(vocab)), scores_(std::move(scores)), unk_id_(unk_id) {
  for (int b = 0; b < 256; ++b) {
    std::optional<int32_t> id = vocab_.ByteTokenId(static_cast<uint8_t>(b));
    // llama.cpp falls back to the byte itself as a piece when "<0xNN>" is missing.
    if (!id) id = vocab_.Find(std::string(1, static_cast<char>(b)));
    byte_ids_[b] = id.value_or(-1);
  }
}

absl::StatusOr<SpmScoreModel> SpmScoreModel::Create(Vocab vocab, std::vector<float> scores,
                                                    std::optional<int32_t> unk_id) {
  if (static_cast<int64_t>(scores.size()) != vocab.size()) {
    return absl::InvalidArgumentError(
        fmt::format("SentencePiece vocabulary has {} pieces but {} scores", vocab.size(), scores.size()));
  }
  return SpmScoreModel(std::move(vocab), std::move(scores), unk_id);
}

void SpmScoreModel::EmitBytes(std::string_view text, std::vector<int32_t>* ids) const {
  for (char c : text) {
    const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      ids->push_back(id);
    } else if (unk_id_) {
      ids->push_back(*unk_id_);
    }
  }
}

void SpmScoreModel::Encode(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < word.size();) {
    const size_t length = std::min(word.size() - offset, LeadByteLength(static_cast<uint8_t>(word[offset])));
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back(Symbol{index - 1, -1, offset, length});
    if (index > 0) symbols[index - 1].next = index;
    offset += length;
  }

  struct Bigram {
    int32_t left;
    int32_t right;
    float score;
    size_t length;
  };
  // Highest score first; on equal scores the leftmost pair.
  auto worse = [](const Bigram& a, const Bigram& b) { return a.score < b.score || (a.score == b.score && a.left > b.left); };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> queue(worse);
  auto try_add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const std::string_view text = word.substr(symbols[left].offset, symbols[left].length + symbols[right].length);
    const std::optional<int32_t> id = vocab_.Find(text);
    if (!id) return;
    queue.push(Bigram{left, right, scores_[*id], text.size()});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add_bigram(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: one side was merged away or grew since the bigram was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add_bigram(left.prev, bigram.left);
    try_add_bigram(bigram.left, left.next);
  }

  // Every merge produced a vocabulary piece, so a final symbol is either a piece or a single
  // character missing from the vocabulary (llama.cpp's resegment reduces to this).
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const std::string_view text = word.substr(symbols[i].offset, symbols[i].length);
    if (std::optional<int32_t> id = vocab_.Find(text)) {
      ids->push_back(*id);
    } else {
      EmitBytes(text, ids);
    }
  }
}

}  // namespace transmla
