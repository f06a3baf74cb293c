// The decode-shape GEMM against a double-precision product of the same 16-bit values: odd output
// counts (a partial 16-row tile), k dims of fewer chunks than warps and of a partial unroll, row
// counts 1 to 8, padded row strides, beta 0 over garbage and beta 1, batches of products (MLA's
// per-head absorbed ones) with float32 and BF16 results. Skips without a GPU.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/util/half.h"
#include "gtest/gtest.h"
#include "tests/testing/random_bf16.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/cuda_engine.h"
#include "core/engine/cuda/device_buffer.h"
#include "core/engine/cuda/gemm.h"
#include "core/engine/cuda/skinny_gemm.h"
#endif

namespace transmla::cuda {
namespace {

#ifdef TRANSMLA_HAVE_CUDA
using ::transmla::testing::RandomBf16;

struct Shape {
  int64_t rows, in, out;
  float beta;
  int64_t batch = 1;
  bool bf16_out = false;  // Y in X's type (then beta is 0)
};

// X [rows x batch x (in + 8)] and Y [rows x batch x out] hold their batch side by side in each row
// (as MLA's heads), W [batch x out x (in + 16)] one matrix after the other.
TEST(CudaSkinnyGemmTest, MatchesADoublePrecisionProduct) {
  std::string why;
  if (!CudaDeviceAvailable(&why)) GTEST_SKIP() << "no CUDA device here (" << why << ")";
  std::mt19937 rng(7);
  for (const Shape& s : {Shape{1, 4096, 40, 0.0f}, Shape{3, 96, 16, 1.0f}, Shape{8, 4128, 1000, 0.0f},
                         Shape{5, 14336, 33, 1.0f}, Shape{8, 32, 7, 1.0f}, Shape{1, 128, 512, 0.0f, 5, true},
                         Shape{8, 512, 128, 0.0f, 3, true}, Shape{4, 96, 24, 1.0f, 2}}) {
    SCOPED_TRACE(::testing::Message() << "rows " << s.rows << " in " << s.in << " out " << s.out << " beta " << s.beta
                                      << " batch " << s.batch << (s.bf16_out ? " bf16 out" : ""));
    const int64_t x_stride = s.in + 8, w_ld = s.in + 16, x_ld = s.batch * x_stride, w_stride = s.out * w_ld;
    const int64_t y_ld = s.batch * s.out, y_count = s.rows * y_ld;
    std::vector<float> x, w, y_old(static_cast<size_t>(y_count));
    const std::vector<uint16_t> x_bits = RandomBf16(static_cast<size_t>(s.rows * x_ld), rng, x);
    const std::vector<uint16_t> w_bits = RandomBf16(static_cast<size_t>(s.batch * w_stride), rng, w);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : y_old) v = s.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : normal(rng);
    DeviceBuffer dx, dw, dy;
    ASSERT_TRUE(dx.Upload(x_bits.data(), x_bits.size() * 2).ok());
    ASSERT_TRUE(dw.Upload(w_bits.data(), w_bits.size() * 2).ok());
    ASSERT_TRUE(dy.Upload(y_old.data(), y_old.size() * 4).ok());
    const Operand xo{dx.get(), GpuType::kBF16, x_ld, x_stride}, wo{dw.get(), GpuType::kBF16, w_ld, w_stride};
    const Output yo{dy.get(), s.bf16_out ? GpuType::kBF16 : GpuType::kF32, y_ld, s.out};
    ASSERT_TRUE(SkinnyGemmApplies(xo, wo, yo, s.rows, s.in, s.beta));
    // Through Gemm, as the engine calls it.
    const absl::Status status = Gemm(nullptr, xo, wo, s.rows, s.in, s.out, yo, s.beta, s.batch);
    ASSERT_TRUE(status.ok()) << status;
    std::vector<float> y(y_old.size());
    if (s.bf16_out) {
      std::vector<uint16_t> bits(y.size());
      ASSERT_EQ(cudaMemcpy(bits.data(), dy.get(), bits.size() * 2, cudaMemcpyDeviceToHost), cudaSuccess);
      for (size_t i = 0; i < y.size(); ++i) y[i] = Bf16ToFloat(bits[i]);
    } else {
      ASSERT_EQ(cudaMemcpy(y.data(), dy.get(), y.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    }
    for (int64_t b = 0; b < s.batch; ++b) {
      for (int64_t r = 0; r < s.rows; ++r) {
        for (int64_t o = 0; o < s.out; ++o) {
          double exact = 0, magnitude = 0;
          for (int64_t k = 0; k < s.in; ++k) {
            const double p = static_cast<double>(x[static_cast<size_t>(r * x_ld + b * x_stride + k)]) *
                             w[static_cast<size_t>(b * w_stride + o * w_ld + k)];
            exact += p;
            magnitude += std::abs(p);
          }
          const size_t i = static_cast<size_t>(r * y_ld + b * s.out + o);
          if (s.beta != 0.0f) exact += y_old[i];
          // float32 accumulation of `in` products: well under 1e-5 of their absolute sum; a BF16 result
          // is also rounded (2^-8 relative at most).
          const double rounding = s.bf16_out ? std::ldexp(std::abs(exact), -8) : 0.0;
          ASSERT_NEAR(y[i], exact, 1e-5 * (magnitude + 1.0) + rounding) << "matrix " << b << " row " << r << " output " << o;
        }
      }
    }
  }
}
#else
TEST(CudaSkinnyGemmTest, MatchesADoublePrecisionProduct) {
  GTEST_SKIP() << "this build has no CUDA backend (no nvcc, or TRANSMLA_WITH_CUDA=OFF)";
}
#endif

}  // namespace
}  // namespace transmla::cuda
