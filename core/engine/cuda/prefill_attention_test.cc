// The prompt kernels (GQA: 32 query heads on 8 kv heads) on random 16-bit data against a
// double-precision causal softmax of the same values: a 300-token prompt from position 0 and a
// 200-token one after 100 cached positions, for each compiled shape of the warpgroup kernel (Llama
// heads of 64 and 128, MLA prompts of 192 / 128), with the warpgroup MMAs (where the GPU runs them)
// and without (the mma.sync kernel). Skips without a GPU.
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

struct PrefillCase {
  int64_t key_dim, value_dim;
  bool warpgroup_mma;
};
void PrintTo(const PrefillCase& c, std::ostream* os) {
  *os << c.key_dim << "/" << c.value_dim << (c.warpgroup_mma ? " warpgroup MMAs" : " mma.sync");
}

class CudaPrefillAttentionTest : public ::testing::TestWithParam<PrefillCase> {
 protected:
  void SetUp() override {
    std::string why;
    if (!CudaDeviceAvailable(&why)) GTEST_SKIP() << "no CUDA device here (" << why << ")";
    absl::StatusOr<AttentionDeviceLimits> limits = CurrentDeviceLimits();
    ASSERT_TRUE(limits.ok()) << limits.status();
    if (GetParam().warpgroup_mma && !limits->warpgroup_mma) {
      GTEST_SKIP() << "this GPU does not run the build's sm_90a kernels";
    }
    limits->warpgroup_mma = GetParam().warpgroup_mma;
    limits_ = *limits;
  }
  AttentionDeviceLimits limits_;
};

TEST_P(CudaPrefillAttentionTest, MatchesDoublePrecision) {
  constexpr int64_t kHeads = 32, kKvHeads = 8, kGroup = kHeads / kKvHeads;
  const int64_t dk = GetParam().key_dim, dv = GetParam().value_dim;
  // The engine's GQA cache: per token the kv heads' keys, then their values.
  AttentionLayout l;
  l.heads = kHeads;
  l.kv_heads = kKvHeads;
  l.key_dim = l.key_head_stride = l.query_head_stride = dk;
  l.value_dim = l.value_head_stride = dv;
  l.value_offset = kKvHeads * dk;
  l.token_stride = kKvHeads * (dk + dv);
  l.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dk)));
  const std::vector<std::pair<int32_t, int32_t>> sequences = {{0, 300}, {100, 200}};  // (start, new tokens)
  std::mt19937 rng(5);
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
  const std::vector<uint16_t> q_bits = RandomBf16(static_cast<size_t>(rows * kHeads * dk), rng, q);
  DeviceBuffer dq, dcaches, dout;
  ASSERT_TRUE(dq.Upload(q_bits.data(), q_bits.size() * 2).ok());
  ASSERT_TRUE(dcaches.Upload(cache_pointers.data(), cache_pointers.size() * sizeof(void*)).ok());
  ASSERT_TRUE(dout.Reserve(static_cast<size_t>(rows * kHeads * dv) * 4).ok());

  AttentionPlan plan;
  plan.OverrideDeviceLimits(limits_);
  ASSERT_TRUE(plan.Build(slices, l, GpuType::kBF16, nullptr).ok());
  if (GetParam().warpgroup_mma) {  // the warpgroup kernel, not the one the other cases run
    AttentionPlan mma_sync;
    mma_sync.OverrideDeviceLimits({limits_.multiprocessors, limits_.shared_per_block,
                                   limits_.shared_per_multiprocessor, false});
    ASSERT_TRUE(mma_sync.Build(slices, l, GpuType::kBF16, nullptr).ok());
    ASSERT_NE(plan.kernel(), mma_sync.kernel());
  }
  const absl::Status run = plan.Run(dq.get(), static_cast<const void* const*>(dcaches.get()), dout.get(), GpuType::kF32,
                                    nullptr);
  ASSERT_TRUE(run.ok()) << run;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> out(static_cast<size_t>(rows * kHeads * dv));
  ASSERT_EQ(cudaMemcpy(out.data(), dout.get(), out.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);

  for (size_t s = 0; s < sequences.size(); ++s) {
    const std::vector<float>& cache = cache_values[s];
    for (int32_t token = 0; token < slices[s].count; ++token) {
      const int64_t row = slices[s].row_begin + token, positions = slices[s].start_position + token + 1;
      for (int64_t head = 0; head < kHeads; ++head) {
        const int64_t key = (head / kGroup) * dk, value = l.value_offset + (head / kGroup) * dv;
        const float* query = q.data() + (row * kHeads + head) * dk;
        std::vector<double> p(static_cast<size_t>(positions));
        double max_score = -1e300, sum = 0;
        for (int64_t t = 0; t < positions; ++t) {
          double dot = 0;
          for (int64_t c = 0; c < dk; ++c) dot += static_cast<double>(query[c]) * cache[t * l.token_stride + key + c];
          p[t] = dot * l.scale;
          max_score = std::max(max_score, p[t]);
        }
        for (double& v : p) sum += v = std::exp(v - max_score);
        const float* got = out.data() + (row * kHeads + head) * dv;
        for (int64_t c = 0; c < dv; ++c) {
          double exact = 0, magnitude = 0;
          for (int64_t t = 0; t < positions; ++t) {
            exact += p[t] * cache[t * l.token_stride + value + c];
            magnitude += p[t] * std::abs(cache[t * l.token_stride + value + c]);
          }
          // The kernel rounds each probability to bfloat16 (relative error 2^-8 at most) before p.v.
          ASSERT_NEAR(got[c], exact / sum, std::ldexp(magnitude / sum, -8) + 1e-5)
              << "sequence " << s << " token " << token << " head " << head << " dim " << c;
        }
      }
    }
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
