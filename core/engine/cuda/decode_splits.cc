#include "core/engine/cuda/decode_splits.h"

#include <algorithm>

#include "core/util/status_macros.h"

namespace transmla::cuda {
namespace {

constexpr int64_t kMinChunk = 256, kMinWaveChunk = 128, kInvariantSplits = 16;

int64_t Ceil(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

// A decoding context splits in 16 chunks of at least 256 positions, from its own length only, so
// that in float32 a sequence gets the same result whatever shares the batch. 16-bit (whose GEMMs
// already differ in the last bits with the batch) fills one wave of the kernel's resident blocks,
// rounded down so that no block spills into a second wave (chunks of at least min(128, context /
// 16) positions; tiles that alone fill the wave are not split). H200, 8B, in one call each against
// the policy before it:
// - The general kernel (two blocks a multiprocessor), against the eighth session's: batch 1 / 8 /
//   32 x 1K +3 / +4 / +8%, 8K +0 / +7 / +3%, 32K +0 / +4%; two waves rounded down lost 6% at batch
//   1 x 32K, rounded up 10-12% at batch 8 x 32K.
// - MLA's latent kernel (one block a multiprocessor), 4 layers, against splits of 16 chunks or
//   more, each split's partial capped at an eighth of the cache it reads: batch 32 x 1K / 8K / 32K
//   +9 / +16 / +9%, batch 8 x 32K +9% (measured with these block counts, balanced in whole stages).
//   The capped plans ran 160 / 480 / 512 / 264 blocks there, 1.2 to 3.9 waves, where one wave runs
//   128; elsewhere the plans are the same.
// - The 16-bit floor of 128 positions (256 until the fourteenth session) splits MLA's batch 1 x 8K in
//   65 chunks instead of 33: +2.4% (8B, two runs each); no other 8B cell's plan changes.
absl::StatusOr<std::vector<int64_t>> PlanChunks(const std::vector<TileReach>& tiles, bool sixteen_bit,
                                                const std::function<absl::StatusOr<int64_t>()>& resident_blocks) {
  const int64_t decode_tiles = std::count_if(tiles.begin(), tiles.end(), [](const TileReach& t) { return t.decoding; });
  int64_t wave_splits = 0;
  if (sixteen_bit && decode_tiles > 0) {
    ASSIGN_OR_RETURN(const int64_t resident, resident_blocks());
    wave_splits = std::clamp<int64_t>(resident / decode_tiles, 1, kMaxSplits);
  }
  std::vector<int64_t> chunks(tiles.size());
  for (size_t t = 0; t < tiles.size(); ++t) {
    const int64_t positions = tiles[t].positions;
    int64_t chunk = positions;
    if (tiles[t].decoding && wave_splits > 0) {
      chunk = std::max(Ceil(positions, wave_splits), std::min(kMinWaveChunk, Ceil(positions, kInvariantSplits)));
    } else if (tiles[t].decoding) {
      chunk = std::max(Ceil(positions, kInvariantSplits), kMinChunk);
    }
    chunks[t] = std::max<int64_t>(Ceil(chunk, kTileTokens), 1) * kTileTokens;
  }
  return chunks;
}

// H200, 8B MLA, two runs each against one group (fourteenth session): batch 1 x 32K +3%, 1 x 8K +2%;
// 512 threads at every batch lost 2-3% at batch 32 (4 splits a tile); GQA within noise.
int MergeThreads(int64_t value_dim, int64_t max_splits) {
  const int64_t column_threads = std::min<int64_t>(value_dim % 4 == 0 ? value_dim / 4 : value_dim, kMaxMergeThreads);
  const int64_t groups = std::clamp<int64_t>(max_splits / 16, 1, kMaxMergeThreads / column_threads);
  return static_cast<int>(std::max<int64_t>(32, column_threads * groups));
}

}  // namespace transmla::cuda
