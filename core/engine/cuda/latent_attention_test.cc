// MLA's absorbed attention (one [latent | rope] row per position, every head's key, its latent
// prefix their value) through the latent kernel on random 16-bit data, against a double-precision
// softmax of the same values: decoding contexts of 1 to 5000 positions (split and unsplit blocks,
// partial stages) next to a 5-token prompt, for both compiled dims, with the warpgroup MMAs (where
// the GPU runs them) and with mma.sync. Skips without a GPU.
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
using ::transmla::testing::StepSequence;

struct LatentCase {
  int64_t key_dim, value_dim, heads;
  bool warpgroup_mma;
};

void PrintTo(const LatentCase& c, std::ostream* os) {
  *os << c.key_dim << "/" << c.value_dim << ", " << c.heads << " heads"
      << (c.warpgroup_mma ? ", warpgroup MMAs" : ", mma.sync");
}

using CudaLatentAttentionTest = ::transmla::testing::AttentionKernelTest<LatentCase>;

// One plan over four decoding sequences and a prompt: contexts 1, 70, 1000 and 5000, and 5 prompt
// tokens after 130. With 16 heads a tile holds two tokens (and a decoding sequence half a tile).
TEST_P(CudaLatentAttentionTest, MatchesDoublePrecision) {
  AttentionLayout l;
  l.heads = GetParam().heads;
  l.kv_heads = 1;
  l.key_dim = l.token_stride = l.query_head_stride = GetParam().key_dim;
  l.value_dim = GetParam().value_dim;
  l.scale = 0.07f;
  const std::vector<StepSequence> sequences = {{0, 1}, {69, 1}, {999, 1}, {4999, 1}, {130, 5}};
  AttentionPlan plan;
  plan.OverrideDeviceLimits(limits_);
  ASSERT_NO_FATAL_FAILURE(ExpectAttentionMatchesDouble(plan, l, sequences, 11));
  // The latent kernel asked for ran, not the other one or the general kernel.
  ExpectOtherChoiceTakesAnotherKernel(plan, l, sequences);
}

INSTANTIATE_TEST_SUITE_P(Dims, CudaLatentAttentionTest,
                         ::testing::Values(LatentCase{576, 512, 32, true}, LatentCase{304, 256, 32, true},
                                           LatentCase{576, 512, 16, true}, LatentCase{576, 512, 32, false},
                                           LatentCase{304, 256, 32, false}, LatentCase{576, 512, 16, false}),
                         [](const ::testing::TestParamInfo<LatentCase>& info) {
                           return "Key" + std::to_string(info.param.key_dim) + "Value" +
                                  std::to_string(info.param.value_dim) + "Heads" + std::to_string(info.param.heads) +
                                  (info.param.warpgroup_mma ? "WarpgroupMma" : "MmaSync");
                         });
#else
TEST(CudaLatentAttentionTest, MatchesDoublePrecision) {
  GTEST_SKIP() << "this build has no CUDA backend (no nvcc, or TRANSMLA_WITH_CUDA=OFF)";
}
#endif

}  // namespace
}  // namespace transmla::cuda
