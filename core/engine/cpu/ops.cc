#include "core/engine/cpu/ops.h"

#include <algorithm>
#include <cmath>

namespace transmla::cpu {
namespace {

// Output features per parallel task in the few-rows path: large enough to amortise the task,
// small enough to balance two to a few dozen cores.
constexpr int64_t kLinearBlock = 64;
constexpr int64_t kFewRows = 8;

}  // namespace

void Linear(const Mat& x, const Mat& w, const Vec* bias, Mat* y) {
  const int64_t rows = x.rows();
  const int64_t out = w.rows();
  y->resize(rows, out);
  if (rows <= kFewRows) {
    const int64_t blocks = (out + kLinearBlock - 1) / kLinearBlock;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t begin = b * kLinearBlock;
      const int64_t n = std::min(kLinearBlock, out - begin);
      y->middleCols(begin, n).noalias() = x * w.middleRows(begin, n).transpose();
    }
  } else {
    y->noalias() = x * w.transpose();
  }
  if (bias != nullptr) y->rowwise() += bias->transpose();
}

void RmsNorm(const Mat& x, const Vec& weight, float eps, Mat* y) {
  y->resize(x.rows(), x.cols());
  for (int64_t r = 0; r < x.rows(); ++r) {
    const float mean_square = x.row(r).squaredNorm() / static_cast<float>(x.cols());
    const float scale = 1.0f / std::sqrt(mean_square + eps);
    y->row(r) = (x.row(r) * scale).cwiseProduct(weight.transpose());
  }
}

void SiluMul(Mat* gate, const Mat& up) {
  float* g = gate->data();
  const float* u = up.data();
  const int64_t n = gate->size();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void RopeAngles(int64_t position, const std::vector<float>& inv_freq, float scaling, float* cos, float* sin) {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const float angle = static_cast<float>(position) * inv_freq[i];
    cos[i] = std::cos(angle) * scaling;
    sin[i] = std::sin(angle) * scaling;
  }
}

void ApplyRope(float* values, int64_t heads, int64_t head_dim, const float* cos, const float* sin,
               RopeLayout layout) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* v = values + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      float* a = layout == RopeLayout::kRotateHalf ? &v[i] : &v[2 * i];
      float* b = layout == RopeLayout::kRotateHalf ? &v[i + half] : &v[2 * i + 1];
      const float x0 = *a;
      const float x1 = *b;
      *a = x0 * cos[i] - x1 * sin[i];
      *b = x1 * cos[i] + x0 * sin[i];
    }
  }
}

void SoftmaxInPlace(float* values, int64_t n) {
  float max_value = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max_value = std::max(max_value, values[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    values[i] = std::exp(values[i] - max_value);
    sum += values[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) values[i] *= inv;
}

}  // namespace transmla::cpu
