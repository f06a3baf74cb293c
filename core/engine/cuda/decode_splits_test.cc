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

// MLA's latent kernel over the 8B conversion: one tile of 32 heads per decoding sequence, 576 x 2
// bytes a position, one block resident per multiprocessor.
SplitInputs Latent() {
  SplitInputs in;
  in.sixteen_bit = true;
  in.latent = true;
  in.multiprocessors = kMultiprocessors;
  in.position_bytes = 576 * 2;
  in.partial_bytes = 2 * 32 * 512 * 4;
  return in;
}

// The general kernel over Llama-3-8B's cache: a tile per kv head (8 per sequence) of 4 query heads,
// 2 x 128 x 2 bytes a position, two blocks resident per multiprocessor.
SplitInputs General(bool sixteen_bit) {
  SplitInputs in;
  in.sixteen_bit = sixteen_bit;
  in.multiprocessors = kMultiprocessors;
  in.position_bytes = 2 * 128 * (sixteen_bit ? 2 : 4);
  in.partial_bytes = 2 * 4 * 128 * 4;
  return in;
}

std::vector<int64_t> Plan(const std::vector<TileReach>& tiles, const SplitInputs& in, int64_t resident) {
  absl::StatusOr<std::vector<int64_t>> chunks = PlanChunks(tiles, in, [&]() -> absl::StatusOr<int64_t> { return resident; });
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
  for (const SplitInputs& in : {Latent(), General(true), General(false)}) {
    for (int64_t batch : {1, 3, 8, 32, 100}) {
      for (int64_t context : {0, 1, 63, 700, 1024, 8192, 32768, 100000}) {
        SCOPED_TRACE(::testing::Message() << "latent " << in.latent << " 16-bit " << in.sixteen_bit << " batch " << batch
                                          << " context " << context);
        std::vector<TileReach> tiles = Decoding(batch, context, in.latent ? 1 : 8);
        tiles.push_back({context + 500, false});  // a prompt's tile in the same step
        const std::vector<int64_t> chunks = Plan(tiles, in, in.latent ? kMultiprocessors : 2 * kMultiprocessors);
        for (size_t t = 0; t < tiles.size(); ++t) {
          ASSERT_GT(chunks[t], 0);
          ASSERT_EQ(chunks[t] % kTileTokens, 0);
          ASSERT_LE((tiles[t].positions + chunks[t] - 1) / chunks[t], kMaxSplits);
        }
        EXPECT_GE(chunks.back(), tiles.back().positions) << "a prompt's tile is never split";
      }
    }
  }
}

TEST(DecodeSplitsTest, Float32ChunksDependOnTheSequenceAloneNotOnItsBatch) {
  SplitInputs latent_f32 = Latent();
  latent_f32.sixteen_bit = false;
  for (const SplitInputs& in : {General(false), latent_f32}) {
    for (int64_t context : {1, 700, 8192, 100000}) {
      const int64_t alone = Plan(Decoding(1, context, 8), in, 264)[0];
      for (int64_t batch : {2, 32, 500}) {
        EXPECT_EQ(Plan(Decoding(batch, context, 8), in, 264)[0], alone) << context << " x " << batch;
      }
      // 16 chunks of at least 256 positions, in whole steps of 64.
      const int64_t sixteenth = std::max<int64_t>((context + 1 + 15) / 16, 256);
      EXPECT_EQ(alone, (sixteenth + 63) / 64 * 64) << context;
    }
  }
}

// MLA at batch 1 and batch 8 x 1K: the eighth cap alone would leave most of the 132 multiprocessors
// idle (5 / 15 / 35 blocks at batch 1); one wave instead. Larger batches keep the capped plan.
TEST(DecodeSplitsTest, LatentKernelFillsOneWaveWhereTheCapLeavesMultiprocessorsIdle) {
  struct Cell {
    int64_t batch, context, blocks;
  };
  for (const Cell& c : {Cell{1, 1024, 9}, Cell{1, 8192, 33}, Cell{1, 32768, 129}, Cell{8, 1024, 72},
                        Cell{8, 8192, 120}, Cell{8, 32768, 264}, Cell{32, 8192, 480}, Cell{32, 32768, 512}}) {
    const std::vector<TileReach> tiles = Decoding(c.batch, c.context, 1);
    EXPECT_EQ(Blocks(tiles, Plan(tiles, Latent(), kMultiprocessors)), c.blocks) << c.batch << " x " << c.context;
  }
}

// GQA (two blocks resident per multiprocessor here, 264 in all): one wave, rounded down. Batch 32
// (256 tiles) leaves each tile whole, batch 8 x 8K splits each in 4 (2112 positions each), batch 1 in
// 33 chunks of 256 (8192 / 33 is under the 256 floor; 32K: 33 of 1024; 1K: 9 of 128, the
// sixteenth in whole steps).
TEST(DecodeSplitsTest, GeneralKernelFillsOneWaveOfResidentBlocks) {
  struct Cell {
    int64_t batch, context, blocks;
  };
  for (const Cell& c : {Cell{32, 8192, 256}, Cell{32, 1024, 256}, Cell{8, 8192, 256}, Cell{8, 1024, 256},
                        Cell{1, 8192, 264}, Cell{1, 32768, 264}, Cell{1, 1024, 72}}) {
    const std::vector<TileReach> tiles = Decoding(c.batch, c.context, 8);
    EXPECT_EQ(Blocks(tiles, Plan(tiles, General(true), 264)), c.blocks) << c.batch << " x " << c.context;
  }
}

}  // namespace
}  // namespace transmla::cuda
