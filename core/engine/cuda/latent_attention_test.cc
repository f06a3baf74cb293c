// MLA's absorbed attention (one [latent | rope] row per position, every head's key, its latent
// prefix their value) through the latent kernel on random 16-bit data, against a double-precision
// softmax of the same values: decoding contexts of 1 to 5000 positions (split and unsplit blocks,
// partial stages) next to a 5-token prompt, for both compiled dims. Before this test, the 576/512
// dims (DeepSeek's, the 8B conversion's) ran only in the benchmark. Skips without a GPU.
#include <cstdint>
#include <ostream>
#include <string>

#include "gtest/gtest.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/attention.h"
#include "core/engine/cuda/cuda_engine.h"
#include "tests/testing/cuda_attention_check.h"
#endif

namespace transmla::cuda {
namespace {

#ifdef TRANSMLA_HAVE_CUDA
using ::transmla::testing::ExpectAttentionMatchesDouble;

struct LatentDims {
  int64_t key_dim, value_dim;
};

void PrintTo(const LatentDims& d, std::ostream* os) { *os << "key dim " << d.key_dim << ", value dim " << d.value_dim; }

// One plan over four decoding sequences and a prompt: contexts 1, 70, 1000 and 5000, and 5 prompt
// tokens after 130.
void CheckAgainstDouble(const LatentDims& dims) {
  AttentionLayout l;
  l.heads = 32;
  l.kv_heads = 1;
  l.key_dim = l.token_stride = l.query_head_stride = dims.key_dim;
  l.value_dim = dims.value_dim;
  l.scale = 0.07f;
  AttentionPlan plan;
  ExpectAttentionMatchesDouble(plan, l, {{0, 1}, {69, 1}, {999, 1}, {4999, 1}, {130, 5}}, 11);
}

class CudaLatentAttentionTest : public ::testing::TestWithParam<LatentDims> {
 protected:
  void SetUp() override {
    std::string why;
    if (!CudaDeviceAvailable(&why)) GTEST_SKIP() << "no CUDA device here (" << why << ")";
  }
};

TEST_P(CudaLatentAttentionTest, MatchesDoublePrecision) { CheckAgainstDouble(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Dims, CudaLatentAttentionTest, ::testing::Values(LatentDims{576, 512}, LatentDims{304, 256}),
                         [](const ::testing::TestParamInfo<LatentDims>& info) {
                           return "Key" + std::to_string(info.param.key_dim) + "Value" + std::to_string(info.param.value_dim);
                         });
#endif

}  // namespace
}  // namespace transmla::cuda
