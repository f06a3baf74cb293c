// The prompt kernels (GQA: 32 query heads on 8 kv heads) on random 16-bit data against a
// double-precision causal softmax of the same values: a 300-token prompt from position 0 and a
// 200-token one after 100 cached positions, for each compiled shape of the warpgroup kernel (Llama
// heads of 64 and 128, MLA prompts of 192 / 128), with the warpgroup MMAs (where the GPU runs them)
// and without (the mma.sync kernel). Skips without a GPU.
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

struct PrefillCase {
  int64_t key_dim, value_dim;
  bool warpgroup_mma;
};
void PrintTo(const PrefillCase& c, std::ostream* os) {
  *os << c.key_dim << "/" << c.value_dim << (c.warpgroup_mma ? " warpgroup MMAs" : " mma.sync");
}

using CudaPrefillAttentionTest = ::transmla::testing::AttentionKernelTest<PrefillCase>;

TEST_P(CudaPrefillAttentionTest, MatchesDoublePrecision) {
  const AttentionLayout l = GqaCacheLayout(32, 8, GetParam().key_dim, GetParam().value_dim);
  const std::vector<StepSequence> sequences = {{0, 300}, {100, 200}};
  AttentionPlan plan;
  plan.OverrideDeviceLimits(limits_);
  ASSERT_NO_FATAL_FAILURE(ExpectAttentionMatchesDouble(plan, l, sequences, 5));
  if (GetParam().warpgroup_mma) {  // the warpgroup kernel ran, not the one the other cases run
    ExpectOtherChoiceTakesAnotherKernel(plan, l, sequences);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaPrefillAttentionTest,
                         ::testing::Values(PrefillCase{64, 64, true}, PrefillCase{128, 128, true},
                                           PrefillCase{192, 128, true}, PrefillCase{64, 64, false},
                                           PrefillCase{128, 128, false}, PrefillCase{192, 128, false}),
                         [](const ::testing::TestParamInfo<PrefillCase>& info) {
                           return "Keys" + std::to_string(info.param.key_dim) + "Values" +
                                  std::to_string(info.param.value_dim) +
                                  (info.param.warpgroup_mma ? "WarpgroupMma" : "MmaSync");
                         });
#else
TEST(CudaPrefillAttentionTest, MatchesDoublePrecision) {
  GTEST_SKIP() << "this build has no CUDA backend (no nvcc, or TRANSMLA_WITH_CUDA=OFF)";
}
#endif

}  // namespace
}  // namespace transmla::cuda
