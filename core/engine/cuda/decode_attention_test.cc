// GQA decoding through the attention plan on random 16-bit data against a double-precision softmax
// of the same values: contexts of 1 to 5000 positions (split and unsplit blocks, partial stages)
// next to a short step whose tokens fill a whole tile, at head dims 128 and 64, with the warpgroup
// MMAs (where the GPU runs them) and without (the general kernel). Skips without a GPU.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/attention.h"
#include "tests/testing/cuda_attention_check.h"
#endif

namespace transmla::cuda {
namespace {

#ifdef TRANSMLA_HAVE_CUDA
using ::transmla::testing::ExpectAttentionMatchesDouble;
using ::transmla::testing::GqaCacheLayout;
using ::transmla::testing::StepSequence;

struct DecodeCase {
  int64_t head_dim, heads, kv_heads;
  bool warpgroup_mma;
};

void PrintTo(const DecodeCase& c, std::ostream* os) {
  *os << "head dim " << c.head_dim << ", " << c.heads << " heads on " << c.kv_heads << " kv heads"
      << (c.warpgroup_mma ? ", warpgroup MMAs" : ", mma.sync");
}

using CudaDecodeAttentionTest = ::transmla::testing::AttentionKernelTest<DecodeCase>;

// Four decoding sequences (contexts 1, 70, 1000 and 5000) and one of 16 / group tokens after 130
// cached positions, whose items fill a tile of 16 and see causally masked positions.
TEST_P(CudaDecodeAttentionTest, MatchesDoublePrecision) {
  const DecodeCase& c = GetParam();
  const AttentionLayout l = GqaCacheLayout(c.heads, c.kv_heads, c.head_dim, c.head_dim);
  const int32_t tokens = static_cast<int32_t>(16 / (c.heads / c.kv_heads));
  const std::vector<StepSequence> sequences = {{0, 1}, {69, 1}, {999, 1}, {4999, 1}, {130, tokens}};
  AttentionPlan plan;
  plan.OverrideDeviceLimits(limits_);
  ASSERT_NO_FATAL_FAILURE(ExpectAttentionMatchesDouble(plan, l, sequences, 17));
  // The kernel asked for ran: the warpgroup one, or the general one.
  ExpectOtherChoiceTakesAnotherKernel(plan, l, sequences);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaDecodeAttentionTest,
                         ::testing::Values(DecodeCase{128, 32, 8, true}, DecodeCase{64, 32, 8, true},
                                           DecodeCase{64, 16, 2, true}, DecodeCase{128, 32, 8, false},
                                           DecodeCase{64, 16, 2, false}),
                         [](const ::testing::TestParamInfo<DecodeCase>& info) {
                           return "HeadDim" + std::to_string(info.param.head_dim) + "Heads" +
                                  std::to_string(info.param.heads) + "Kv" + std::to_string(info.param.kv_heads) +
                                  (info.param.warpgroup_mma ? "WarpgroupMma" : "MmaSync");
                         });
#else
TEST(CudaDecodeAttentionTest, MatchesDoublePrecision) {
  GTEST_SKIP() << "this build has no CUDA backend (no nvcc, or TRANSMLA_WITH_CUDA=OFF)";
}
#endif

}  // namespace
}  // namespace transmla::cuda
