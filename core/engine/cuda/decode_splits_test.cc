// The decode split policy without a GPU: its invariants over a sweep of batches and contexts, and
// the plans of the 8B cells it was measured on (H200: 132 multiprocessors).
#include "core/engine/cuda/decode_splits.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace transmla::cuda {
namespace {

constexpr int kMultiprocessors = 132;

// The kernels as the 8B models run them: MLA's latent kernel, one tile of 32 heads per decoding
// sequence and one block resident per multiprocessor; the general kernel over Llama-3-8B's cache, a
// tile per kv head (8 per sequence) and two blocks resident per multiprocessor.
struct Kernel {
  bool sixteen_bit;
  int64_t tiles_per_sequence, resident;
};
constexpr Kernel kLatent{true, 1, kMultiprocessors}, kLatentF32{false, 1, kMultiprocessors};
constexpr Kernel kGeneral{true, 8, 2 * kMultiprocessors}, kGeneralF32{false, 8, 2 * kMultiprocessors};

std::vector<int64_t> Plan(const std::vector<TileReach>& tiles, const Kernel& k) {
  absl::StatusOr<std::vector<int64_t>> chunks =
      PlanChunks(tiles, k.sixteen_bit, [&]() -> absl::StatusOr<int64_t> { return k.resident; });
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  return chunks.ok() ? *chunks : std::vector<int64_t>(tiles.size(), 0);
}

// `batch` decoding sequences at `context` positions (plus the new token), `per_sequence` tiles each.
std::vector<TileReach> Decoding(int64_t batch, int64_t context, int64_t per_sequence) {
  return std::vector<TileReach>(static_cast<size_t>(batch * per_sequence), TileReach{context + 1, true});
}

int64_t Blocks(const std::vector<TileReach>& tiles, const std::vector<int64_t>& chunks) {
  int64_t blocks = 0;
  for (size_t t = 0; t < tiles.size(); ++t) blocks += (tiles[t].positions + chunks[t] - 1) / chunks[t];
  return blocks;
}

TEST(DecodeSplitsTest, ChunksAreWholeStepsWithinTheSplitLimitAndPromptsStayWhole) {
  for (const Kernel& k : {kLatent, kGeneral, kGeneralF32}) {
    for (int64_t batch : {1, 3, 8, 32, 100}) {
      for (int64_t context : {0, 1, 63, 700, 1024, 8192, 32768, 100000}) {
        SCOPED_TRACE(::testing::Message() << "tiles a sequence " << k.tiles_per_sequence << " 16-bit " << k.sixteen_bit
                                          << " batch " << batch << " context " << context);
        std::vector<TileReach> tiles = Decoding(batch, context, k.tiles_per_sequence);
        tiles.push_back({context + 500, false});  // a prompt's tile in the same step
        const std::vector<int64_t> chunks = Plan(tiles, k);
        for (size_t t = 0; t < tiles.size(); ++t) {
          ASSERT_GT(chunks[t], 0);
          ASSERT_EQ(chunks[t] % kTileTokens, 0);
          ASSERT_LE((tiles[t].positions + chunks[t] - 1) / chunks[t], kMaxSplits);
        }
        EXPECT_GE(chunks.back(), tiles.back().positions) << "a prompt's tile is never split";
        if (k.sixteen_bit) {  // one wave: the decoding tiles' blocks fit the resident ones (the prompt's is 1)
          EXPECT_LE(Blocks(tiles, chunks) - 1, std::max(k.resident, batch * k.tiles_per_sequence));
        }
      }
    }
  }
}

TEST(DecodeSplitsTest, Float32ChunksDependOnTheSequenceAloneNotOnItsBatch) {
  for (const Kernel& k : {kGeneralF32, kLatentF32}) {
    for (int64_t context : {1, 700, 8192, 100000}) {
      const int64_t alone = Plan(Decoding(1, context, k.tiles_per_sequence), k)[0];
      for (int64_t batch : {2, 32, 500}) {
        EXPECT_EQ(Plan(Decoding(batch, context, k.tiles_per_sequence), k)[0], alone) << context << " x " << batch;
      }
      // 16 chunks of at least 256 positions, in whole steps of 64.
      const int64_t sixteenth = std::max<int64_t>((context + 1 + 15) / 16, 256);
      EXPECT_EQ(alone, (sixteenth + 63) / 64 * 64) << context;
    }
  }
}

struct Cell {
  int64_t batch, context, blocks;
};
void ExpectBlocks(const Kernel& k, const std::vector<Cell>& cells) {
  for (const Cell& c : cells) {
    const std::vector<TileReach> tiles = Decoding(c.batch, c.context, k.tiles_per_sequence);
    EXPECT_EQ(Blocks(tiles, Plan(tiles, k)), c.blocks) << c.batch << " x " << c.context;
  }
}

// MLA (132 resident blocks): batch 32 splits each sequence in 4 (128 blocks), batch 8 in 16 at 32K
// (2112 positions each) and 15 at 8K (576), batch 8 x 1K and batch 1 in chunks of the sixteenth or
// 128 positions, whichever is smaller, where one wave allows (9 blocks of 128 at 1K, 65 of 128 at
// 8K; 129 of 256 at 32K).
TEST(DecodeSplitsTest, LatentKernelFillsOneWaveOfResidentBlocks) {
  ExpectBlocks(kLatent, {{1, 1024, 9}, {1, 8192, 65}, {1, 32768, 129}, {8, 1024, 72}, {8, 8192, 120},
                         {8, 32768, 128}, {32, 1024, 128}, {32, 8192, 128}, {32, 32768, 128}});
}

// GQA (264 resident blocks: the general kernel and the warpgroup decode kernel): batch 32 (256
// tiles) leaves each tile whole, batch 8 x 8K splits each in 4 (2112 positions each), batch 1 in 33
// chunks of 256 (8192 / 33 in whole steps; 32K: 33 of 1024; 1K: 9 of 128, the sixteenth in whole
// steps).
TEST(DecodeSplitsTest, GeneralKernelFillsOneWaveOfResidentBlocks) {
  ExpectBlocks(kGeneral, {{32, 8192, 256}, {32, 1024, 256}, {8, 8192, 256}, {8, 1024, 256}, {1, 8192, 264},
                          {1, 32768, 264}, {1, 1024, 72}});
}

// The merge: MLA's 512 value columns take 128 threads a pass, GQA's 128 take 32; one more group for
// every 16 splits (MLA batch 1 x 8K and 32K: 65 and 129 splits), at most 512 threads, at least a warp.
TEST(DecodeSplitsTest, MergeThreadsGrowWithTheSplits) {
  EXPECT_EQ(MergeThreads(512, 1), 128);
  EXPECT_EQ(MergeThreads(512, 4), 128);
  EXPECT_EQ(MergeThreads(512, 65), 512);
  EXPECT_EQ(MergeThreads(512, 33), 256);
  EXPECT_EQ(MergeThreads(512, 129), 512);
  EXPECT_EQ(MergeThreads(128, 33), 64);
  EXPECT_EQ(MergeThreads(128, kMaxSplits), 512);
  EXPECT_EQ(MergeThreads(64, 1), 32);
  EXPECT_EQ(MergeThreads(100, 48), 75);   // 25 threads a pass (4 columns each), 3 groups
  EXPECT_EQ(MergeThreads(102, 48), 306);  // 102 columns one a thread, 3 groups
  EXPECT_EQ(MergeThreads(2048, kMaxSplits), kMaxMergeThreads);
}

}  // namespace
}  // namespace transmla::cuda
