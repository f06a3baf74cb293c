// MLA's absorbed attention (one [latent | rope] row per position, every head's key, its latent
// prefix their value) through the latent kernel on random 16-bit data, against a double-precision
// softmax of the same values: decoding contexts of 1 to 5000 positions (split and unsplit blocks,
// partial stages) next to a 5-token prompt, for both compiled dims. Before this test, the 576/512
// dims (DeepSeek's, the 8B conversion's) ran only in the benchmark. Skips without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/random_bf16.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/attention.h"
#include "core/engine/cuda/cuda_engine.h"
#include "core/engine/cuda/device_buffer.h"
#endif

namespace transmla::cuda {
namespace {

#ifdef TRANSMLA_HAVE_CUDA
using ::transmla::testing::RandomBf16;

struct LatentDims {
  int64_t key_dim, value_dim;
};

void PrintTo(const LatentDims& d, std::ostream* os) { *os << "key dim " << d.key_dim << ", value dim " << d.value_dim; }

// Runs one plan over four decoding sequences and a prompt and checks every output.
void CheckAgainstDouble(const LatentDims& dims) {
  constexpr int64_t kHeads = 32;
  AttentionLayout l;
  l.heads = kHeads;
  l.kv_heads = 1;
  l.key_dim = l.token_stride = l.query_head_stride = dims.key_dim;
  l.value_dim = dims.value_dim;
  l.scale = 0.07f;
  // (start position, new tokens): contexts 1, 70, 1000 and 5000, and 5 prompt tokens after 130.
  const std::vector<std::pair<int32_t, int32_t>> sequences = {{0, 1}, {69, 1}, {999, 1}, {4999, 1}, {130, 5}};
  std::mt19937 rng(11);
  std::vector<AttentionSlice> slices;
  std::vector<std::vector<float>> cache_values(sequences.size());
  std::vector<DeviceBuffer> caches(sequences.size());
  std::vector<const void*> cache_pointers;
  int32_t rows = 0;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const auto [start, count] = sequences[s];
    slices.push_back({rows, count, start});
    rows += count;
    const std::vector<uint16_t> bits =
        RandomBf16(static_cast<size_t>((start + count) * l.token_stride), rng, cache_values[s]);
    ASSERT_TRUE(caches[s].Upload(bits.data(), bits.size() * 2).ok());
    cache_pointers.push_back(caches[s].get());
  }
  std::vector<float> q;
  const std::vector<uint16_t> q_bits = RandomBf16(static_cast<size_t>(rows * kHeads * l.query_head_stride), rng, q);
  DeviceBuffer dq, dcaches, dout;
  ASSERT_TRUE(dq.Upload(q_bits.data(), q_bits.size() * 2).ok());
  ASSERT_TRUE(dcaches.Upload(cache_pointers.data(), cache_pointers.size() * sizeof(void*)).ok());
  ASSERT_TRUE(dout.Reserve(static_cast<size_t>(rows * kHeads * l.value_dim) * 4).ok());

  AttentionPlan plan;
  ASSERT_TRUE(plan.Build(slices, l, GpuType::kBF16, nullptr).ok());
  const absl::Status run = plan.Run(dq.get(), static_cast<const void* const*>(dcaches.get()), dout.get(), GpuType::kF32,
                                    nullptr);
  ASSERT_TRUE(run.ok()) << run;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> out(static_cast<size_t>(rows * kHeads * l.value_dim));
  ASSERT_EQ(cudaMemcpy(out.data(), dout.get(), out.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);

  for (size_t s = 0; s < sequences.size(); ++s) {
    const std::vector<float>& cache = cache_values[s];
    for (int32_t token = 0; token < slices[s].count; ++token) {
      const int64_t row = slices[s].row_begin + token, positions = slices[s].start_position + token + 1;
      for (int64_t head = 0; head < kHeads; ++head) {
        const float* query = q.data() + (row * kHeads + head) * l.query_head_stride;
        std::vector<double> p(static_cast<size_t>(positions));
        double max_score = -1e300, sum = 0;
        for (int64_t t = 0; t < positions; ++t) {
          double dot = 0;
          for (int64_t d = 0; d < l.key_dim; ++d) dot += static_cast<double>(query[d]) * cache[t * l.token_stride + d];
          p[t] = dot * l.scale;
          max_score = std::max(max_score, p[t]);
        }
        for (double& v : p) sum += v = std::exp(v - max_score);
        const float* got = out.data() + (row * kHeads + head) * l.value_dim;
        for (int64_t d = 0; d < l.value_dim; ++d) {
          double exact = 0, magnitude = 0;
          for (int64_t t = 0; t < positions; ++t) {
            exact += p[t] * cache[t * l.token_stride + d];
            magnitude += p[t] * std::abs(cache[t * l.token_stride + d]);
          }
          // The kernel rounds each probability to bfloat16 (relative error 2^-8 at most) before p.v.
          ASSERT_NEAR(got[d], exact / sum, std::ldexp(magnitude / sum, -8) + 1e-5)
              << "sequence " << s << " token " << token << " head " << head << " dim " << d;
        }
      }
    }
  }
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
