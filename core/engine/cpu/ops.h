#ifndef TRANSMLA_CORE_ENGINE_CPU_OPS_H_
#define TRANSMLA_CORE_ENGINE_CPU_OPS_H_

#include <cstdint>
#include <vector>

#include "Eigen/Core"

namespace transmla::cpu {

// Row-major float matrices: activations are [tokens x features], weights [out x in] as stored.
using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vec = Eigen::VectorXf;

// y = x * w^T (+ bias). Parallel over output features when x has few rows (decode), where Eigen's
// own GEMV would use one core.
void Linear(const Mat& x, const Mat& w, const Vec* bias, Mat* y);

// Each row of x scaled by 1/sqrt(mean(row^2) + eps), times `weight`, as transformers' RMSNorm.
void RmsNorm(const Mat& x, const Vec& weight, float eps, Mat* y);

// gate <- silu(gate) * up, elementwise.
void SiluMul(Mat* gate, const Mat& up);

// cos/sin of position * inv_freq for each RoPE pair, times `scaling`, in float32 as transformers
// computes them.
void RopeAngles(int64_t position, const std::vector<float>& inv_freq, float scaling, float* cos, float* sin);

// In-place RoPE on `heads` consecutive blocks of `head_dim` values in row `row` of x, starting at
// column `offset`, using cos/sin of position `angles` (head_dim/2 values, already pos * inv_freq).
// kRotateHalf pairs dim i with i + head_dim/2 (Llama in HF layout); kInterleaved pairs 2i with 2i+1
// (DeepSeek, GGUF).
enum class RopeLayout { kRotateHalf, kInterleaved };
void ApplyRope(float* values, int64_t heads, int64_t head_dim, const float* cos, const float* sin,
               RopeLayout layout);

// Numerically stable in-place softmax of n values.
void SoftmaxInPlace(float* values, int64_t n);

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_OPS_H_
