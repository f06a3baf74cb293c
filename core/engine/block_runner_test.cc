#include "core/engine/block_runner.h"

#include "gtest/gtest.h"

namespace transmla {
namespace {

TEST(BlockRunnerTest, SlicesMustCoverTheRowsInOrder) {
  using Slices = std::vector<cpu::SequenceSlice>;
  EXPECT_TRUE(CheckBlockSlices(Slices{{nullptr, 0, 3, 0}, {nullptr, 3, 2, 0}}, 5).ok());
  const std::pair<Slices, int64_t> bad[] = {
      {{{nullptr, 0, 3, 0}, {nullptr, 4, 1, 0}}, 5},  // a gap
      {{{nullptr, 0, 3, 0}, {nullptr, 2, 3, 0}}, 5},  // an overlap
      {{{nullptr, 3, 2, 0}, {nullptr, 0, 3, 0}}, 5},  // out of order
      {{{nullptr, 0, 3, 0}, {nullptr, 3, 0, 0}, {nullptr, 3, 2, 0}}, 5},  // an empty sequence
      {{{nullptr, 0, 3, 0}}, 5},                                         // rows left over
      {{{nullptr, 0, 6, 0}}, 5},                                         // beyond the rows
  };
  for (const auto& [slices, rows] : bad) {
    EXPECT_EQ(CheckBlockSlices(slices, rows).code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace transmla
