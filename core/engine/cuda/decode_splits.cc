#include "core/engine/cuda/decode_splits.h"

#include <algorithm>

#include "core/util/status_macros.h"

namespace transmla::cuda {
namespace {

constexpr int64_t kMinChunk = 256, kInvariantSplits = 16, kDecodeWaves = 2;

int64_t Ceil(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

// A decoding context splits in 16 chunks of at least 256 positions, from its own length only, so
// that in float32 a sequence gets the same result whatever shares the batch. 16-bit (whose GEMMs
// already differ in the last bits with the batch): more while the batch leaves multiprocessors idle
// (up to about two blocks each), as long as each split's partial result, written and read back in
// float32, stays under an eighth of the cache it reads (MLA: 910 positions for 32 heads x 512).
// H200, 8B GQA: batch 1 at 8K-32K gained 1.1-1.2x; fewer splits than 16 at batch 8 lost 10-20%.
// Where the general kernel's decoding tiles alone outnumber the multiprocessors, as many as make
// two waves of resident blocks instead: 8B GQA at batch 32 x 1K and 8K +9% (1024 and 4096 short
// blocks before). Applied to every batch (8B, with chained launches, against neither) it lost
// 4-12% at batch 8 and 6% at batch 1 x 32K; for MLA's latent kernel, 5% at batch 8 x 8K (4
// layers). Where MLA's latent kernel would leave multiprocessors idle (the eighth cap: 35 blocks
// at batch 1 x 32K), one wave of resident blocks instead, rounded down: 4 layers, batch 1 at 1K /
// 8K / 32K +4 / +6 / +7%, batch 8 x 1K +2%.
absl::StatusOr<std::vector<int64_t>> PlanChunks(const std::vector<TileReach>& tiles, const SplitInputs& in,
                                                const std::function<absl::StatusOr<int64_t>()>& resident_blocks) {
  const int64_t decode_tiles = std::count_if(tiles.begin(), tiles.end(), [](const TileReach& t) { return t.decoding; });
  int64_t wave_splits = 0, extra_splits = 0, extra_min_chunk = kMinChunk;
  if (in.sixteen_bit && !in.latent && decode_tiles >= in.multiprocessors) {
    ASSIGN_OR_RETURN(const int64_t resident, resident_blocks());
    wave_splits = std::clamp<int64_t>(Ceil(kDecodeWaves * resident, decode_tiles), 1, kMaxSplits);
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
    ASSIGN_OR_RETURN(const int64_t resident, resident_blocks());
    wave_splits = std::clamp<int64_t>(resident / decode_tiles, 1, kMaxSplits);
    for (size_t t = 0; t < tiles.size(); ++t) chunks[t] = chunk_of(tiles[t]);
  }
  return chunks;
}

}  // namespace transmla::cuda
