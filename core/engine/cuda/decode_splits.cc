#include "core/engine/cuda/decode_splits.h"

#include <algorithm>

#include "core/util/status_macros.h"

namespace transmla::cuda {
namespace {

constexpr int64_t kMinChunk = 256, kInvariantSplits = 16;

int64_t Ceil(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

// A decoding context splits in 16 chunks of at least 256 positions, from its own length only, so
// that in float32 a sequence gets the same result whatever shares the batch. 16-bit (whose GEMMs
// already differ in the last bits with the batch) fills one wave of the kernel's resident blocks,
// rounded down so that no block spills into a second wave (chunks of at least min(256, context /
// 16) positions; tiles that alone fill the wave are not split). The general kernel, 8B GQA on the
// H200 against the eighth session's policy (below) in one call: batch 1 / 8 / 32 x 1K +3 / +4 /
// +8%, 8K +0 / +7 / +3%, 32K +0 / +4% (batch 32 at 8K and 1K 75% and 71% of the floor); two waves
// rounded down lost 6% at batch 1 x 32K, rounded up 10-12% at batch 8 x 32K. MLA's latent kernel
// keeps the eighth session's policy where the batch fills the multiprocessors (one wave lost 20%
// at batch 32 x 32K): more chunks than 16 only while the batch leaves multiprocessors idle, as long
// as each split's float32 partial, written and read back, stays under an eighth of the cache it
// reads (910 positions for 32 heads x 512); where that cap leaves multiprocessors idle (35 blocks at
// batch 1 x 32K), one wave, rounded down: 4 layers, batch 1 at 1K / 8K / 32K +4 / +6 / +7%.
absl::StatusOr<std::vector<int64_t>> PlanChunks(const std::vector<TileReach>& tiles, const SplitInputs& in,
                                                const std::function<absl::StatusOr<int64_t>()>& resident_blocks) {
  const int64_t decode_tiles = std::count_if(tiles.begin(), tiles.end(), [](const TileReach& t) { return t.decoding; });
  const auto one_wave = [&]() -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(const int64_t resident, resident_blocks());
    return std::clamp<int64_t>(resident / decode_tiles, 1, kMaxSplits);
  };
  int64_t wave_splits = 0, extra_splits = 0, extra_min_chunk = kMinChunk;
  if (in.sixteen_bit && !in.latent && decode_tiles > 0) {
    ASSIGN_OR_RETURN(wave_splits, one_wave());
  } else if (in.sixteen_bit && decode_tiles > 0) {
    extra_splits = std::min<int64_t>(Ceil(2 * in.multiprocessors, decode_tiles), kMaxSplits);
    extra_min_chunk = std::max<int64_t>(kMinChunk, 8 * in.partial_bytes / in.position_bytes);
  }
  const auto chunk_of = [&](const TileReach& t) {
    int64_t chunk = t.positions;
    if (t.decoding && wave_splits > 0) {
      chunk = std::max(Ceil(t.positions, wave_splits), std::min(kMinChunk, Ceil(t.positions, kInvariantSplits)));
    } else if (t.decoding) {
      chunk = std::max(Ceil(t.positions, kInvariantSplits), kMinChunk);
      if (extra_splits > kInvariantSplits) {
        chunk = std::min(chunk, std::max(Ceil(t.positions, extra_splits), extra_min_chunk));
      }
    }
    return std::max<int64_t>(Ceil(chunk, kTileTokens), 1) * kTileTokens;
  };
  std::vector<int64_t> chunks(tiles.size());
  int64_t blocks = 0;
  for (size_t t = 0; t < tiles.size(); ++t) blocks += Ceil(tiles[t].positions, chunks[t] = chunk_of(tiles[t]));
  if (in.latent && extra_splits > 0 && blocks < in.multiprocessors) {
    ASSIGN_OR_RETURN(wave_splits, one_wave());
    for (size_t t = 0; t < tiles.size(); ++t) chunks[t] = chunk_of(tiles[t]);
  }
  return chunks;
}

}  // namespace transmla::cuda
