#include "core/tokenizer/bpe_model.h"

#include <queue>

#include "absl/status/status.h"
#include "core/tokenizer/utf8.h"
#include "fmt/format.h"

namespace transmla {

BpeModel::BpeModel(Vocab vocab, BpeOptions options) : vocab_(std::move(vocab)), options_(options) {
  for (int b = 0; b < 256; ++b) byte_ids_[b] = vocab_.ByteTokenId(static_cast<uint8_t>(b)).value_or(-1);
}

absl::StatusOr<BpeModel> BpeModel::Create(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                                          BpeOptions options) {
  BpeModel model(std::move(vocab), options);
  model.merges_.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    joined.assign(left).append(right);
    const std::optional<int32_t> left_id = model.vocab_.Find(left);
    const std::optional<int32_t> right_id = model.vocab_.Find(right);
    const std::optional<int32_t> new_id = model.vocab_.Find(joined);
    if (!left_id || !right_id || !new_id) {
      return absl::InvalidArgumentError(
          fmt::format("BPE merge #{} ('{}' + '{}') uses a token missing from the vocabulary", rank, left, right));
    }
    // A pair listed twice ends with its last rank, as in HF (it collects merges into a map).
    model.merges_[PairKey(*left_id, *right_id)] = Merge{static_cast<int32_t>(rank), *new_id};
  }
  return model;
}

const BpeModel::Merge* BpeModel::FindMerge(int32_t left, int32_t right) const {
  auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::InitialSymbols(std::string_view word, std::vector<Symbol>* symbols) const {
  auto add = [symbols](int32_t id, size_t length) {
    const int32_t index = static_cast<int32_t>(symbols->size());
    if (index > 0) symbols->back().next = index;
    symbols->push_back(Symbol{id, index - 1, -1, static_cast<int32_t>(length)});
  };
  // Bytes of unknown characters not yet emitted as unk (fused when options_.fuse_unk).
  size_t pending_unk = 0;
  auto flush_unk = [&] {
    if (pending_unk > 0) add(*options_.unk_id, pending_unk);
    pending_unk = 0;
  };
  size_t pos = 0;
  while (pos < word.size()) {
    const size_t length = Utf8CharLength(word, pos);
    const std::string_view ch = word.substr(pos, length);
    pos += length;
    if (std::optional<int32_t> id = vocab_.Find(ch)) {
      flush_unk();
      add(*id, length);
      continue;
    }
    if (options_.byte_fallback) {
      bool all_bytes_known = true;
      for (char c : ch) all_bytes_known = all_bytes_known && byte_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all_bytes_known) {
        flush_unk();
        for (char c : ch) add(byte_ids_[static_cast<uint8_t>(c)], 1);
        continue;
      }
    }
    if (!options_.unk_id) continue;  // HF drops characters it cannot represent at all
    if (!options_.fuse_unk) flush_unk();
    pending_unk += length;
  }
  flush_unk();
}

void BpeModel::MergeAll(std::vector<Symbol>* symbols) const {
  struct Candidate {
    int32_t rank;
    int32_t pos;  // index of the left symbol
    int32_t new_id;
  };
  // Lowest rank first; on equal ranks the leftmost pair.
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> queue(worse);
  std::vector<Symbol>& s = *symbols;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (const Merge* m = FindMerge(s[i].id, s[i + 1].id)) {
      queue.push(Candidate{m->rank, static_cast<int32_t>(i), m->new_id});
    }
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = s[top.pos];
    if (left.length == 0 || left.next < 0) continue;
    // The pair may have changed since it was queued; only merge if it still yields new_id.
    const Merge* current = FindMerge(left.id, s[left.next].id);
    if (current == nullptr || current->new_id != top.new_id) continue;
    Symbol& right = s[left.next];
    left.id = top.new_id;
    left.length += right.length;
    left.next = right.next;
    right.length = 0;
    if (left.next >= 0) s[left.next].prev = top.pos;
    if (left.prev >= 0) {
      if (const Merge* m = FindMerge(s[left.prev].id, left.id)) queue.push(Candidate{m->rank, left.prev, m->new_id});
    }
    if (left.next >= 0) {
      if (const Merge* m = FindMerge(left.id, s[left.next].id)) queue.push(Candidate{m->rank, top.pos, m->new_id});
    }
  }
}

void BpeModel::Encode(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (std::optional<int32_t> id = vocab_.Find(word)) {
      ids->push_back(*id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  InitialSymbols(word, &symbols);
  MergeAll(&symbols);
  for (const Symbol& symbol : symbols) {
    if (symbol.length > 0) ids->push_back(symbol.id);
  }
}

}  // namespace transmla
