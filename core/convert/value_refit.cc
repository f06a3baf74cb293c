#include "core/convert/value_refit.h"

#include <cmath>

#include "Eigen/Cholesky"
#include "absl/status/status.h"
#include "core/engine/rope.h"
#include "fmt/format.h"

namespace transmla::convert {
namespace {

using cpu::Mat;
using Frequencies = std::vector<float>;

// Applies RoPE to every row of `x` (row t at position t): `heads` blocks, `stride` columns apart
// starting at `offset`, each rotating 2 * freq.size() columns, rotate-half or interleaved.
void RopeRows(Mat* x, int64_t offset, int64_t heads, int64_t stride, const Frequencies& freq, cpu::RopeLayout layout) {
  const int64_t dim = 2 * static_cast<int64_t>(freq.size());
  std::vector<float> cos(freq.size()), sin(freq.size());
  for (int64_t t = 0; t < x->rows(); ++t) {
    cpu::RopeAngles(t, freq, 1.0f, cos.data(), sin.data());
    for (int64_t h = 0; h < heads; ++h) {
      cpu::ApplyRope(x->row(t).data() + offset + h * stride, 1, dim, cos.data(), sin.data(), layout);
    }
  }
}

// Causal softmax attention weights of queries `q` against keys `k` (both [n x dim]) into `p`.
void CausalWeights(const Mat& q, const Mat& k, float scale, Mat* p) {
  p->noalias() = (q * k.transpose()) * scale;
  for (int64_t i = 0; i < p->rows(); ++i) {
    for (int64_t j = i + 1; j < p->cols(); ++j) (*p)(i, j) = -INFINITY;
    cpu::SoftmaxInPlace(p->row(i).data(), p->cols());
  }
}

// A projection's weights in float32, converted once per layer rather than once per sequence.
struct FloatLinear {
  Mat w;
  std::optional<Eigen::VectorXf> bias;
  FloatLinear(const MatD& weights, const std::optional<VecD>& b) : w(weights.cast<float>()) {
    if (b) bias = b->cast<float>();
  }
  Mat Apply(const Mat& x) const {
    Mat y = x * w.transpose();
    if (bias) y.rowwise() += bias->transpose();
    return y;
  }
};

// One head's refit: the least-squares weights and the summed output error |W m - o|^2 =
// tr(W G W^T) - 2 tr(W C^T) + |o|^2 before and after.
struct HeadSolution {
  Eigen::MatrixXd weights;
  double before = 0, after = 0;
};
HeadSolution SolveHead(const Eigen::MatrixXd& gram, const Eigen::MatrixXd& cross, const Eigen::MatrixXd& old_weights,
                       double target_energy, double ridge) {
  auto error = [&](const Eigen::MatrixXd& w) {
    return (w * gram).cwiseProduct(w).sum() - 2.0 * w.cwiseProduct(cross).sum() + target_energy;
  };
  const int64_t rank = gram.rows();
  HeadSolution head;
  head.weights = (gram + ridge * Eigen::MatrixXd::Identity(rank, rank))
                     .ldlt()
                     .solve((cross + ridge * old_weights).transpose())
                     .transpose();
  head.before = error(old_weights);
  head.after = error(head.weights);
  return head;
}

}  // namespace

RefitInputs PrepareValueRefit(const ModelConfig& source, const GqaLayer& original, const MlaShape& shape,
                              const std::vector<double>& rope_frequencies, const cpu::Mat& normed_input,
                              const std::vector<cpu::SequenceSlice>& sequences, const MlaLayer& candidate) {
  const int64_t n_h = source.num_attention_heads, d_h = source.head_dim, group = n_h / source.num_key_value_heads;
  const int64_t nope = shape.qk_nope_head_dim, rope = shape.qk_rope_head_dim, qk = nope + rope;
  const Frequencies original_freq = RopeInverseFrequencies(source, d_h);
  const Frequencies converted_freq(rope_frequencies.begin(), rope_frequencies.end());
  std::optional<VecD> rope_bias;
  if (candidate.kv_a_bias) rope_bias = candidate.kv_a_bias->tail(rope);
  const FloatLinear wq(original.wq, original.bq), wk(original.wk, original.bk), wv(original.wv, original.bv);
  const FloatLinear q_conv_proj(candidate.q_proj, candidate.q_bias);
  const FloatLinear k_rope_proj(candidate.kv_a.bottomRows(rope), rope_bias);
  const size_t n = sequences.size();
  RefitInputs in;
  in.original_outputs.resize(n);
  in.queries.resize(n);
  in.rope_keys.resize(n);
  std::vector<std::vector<double>> energy(n, std::vector<double>(static_cast<size_t>(n_h), 0.0));
  // Sequences in parallel, each one's products single-threaded (Eigen does not nest inside an
  // OpenMP region): per-head attention is too small to spread over threads.
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < n; ++i) {
    const cpu::SequenceSlice& s = sequences[i];
    const Mat x = normed_input.middleRows(s.row_begin, s.count);
    Mat q_orig = wq.Apply(x), k_orig = wk.Apply(x);
    const Mat v_orig = wv.Apply(x);
    RopeRows(&q_orig, 0, n_h, d_h, original_freq, cpu::RopeLayout::kRotateHalf);
    RopeRows(&k_orig, 0, source.num_key_value_heads, d_h, original_freq, cpu::RopeLayout::kRotateHalf);
    Mat outputs(x.rows(), n_h * d_h), p_orig;
    for (int64_t h = 0; h < n_h; ++h) {
      const int64_t g = h / group;
      CausalWeights(q_orig.middleCols(h * d_h, d_h), k_orig.middleCols(g * d_h, d_h),
                    1.0f / std::sqrt(static_cast<float>(d_h)), &p_orig);
      const Mat o = p_orig * v_orig.middleCols(g * d_h, d_h);
      energy[i][static_cast<size_t>(h)] = o.squaredNorm();
      outputs.middleCols(h * d_h, d_h) = o;
    }
    in.original_outputs[i] = std::move(outputs);
    Mat q_conv = q_conv_proj.Apply(x), k_rope = k_rope_proj.Apply(x);
    RopeRows(&q_conv, nope, n_h, qk, converted_freq, cpu::RopeLayout::kInterleaved);
    RopeRows(&k_rope, 0, 1, rope, converted_freq, cpu::RopeLayout::kInterleaved);  // stride unused: one block
    in.queries[i] = std::move(q_conv);
    in.rope_keys[i] = std::move(k_rope);
  }
  // Summed in sequence order: the same result for any thread count.
  in.output_energy.assign(static_cast<size_t>(n_h), 0.0);
  for (const std::vector<double>& e : energy) {
    for (size_t h = 0; h < e.size(); ++h) in.output_energy[h] += e[h];
  }
  return in;
}

RefitSums AccumulateRefitSums(const RefitProblem& problem) {
  const int64_t n_h = problem.heads, rank = problem.rank, nope = problem.nope, rope = problem.rope;
  const int64_t v_dim = problem.value_dim, qk = nope + rope;
  const Mat& kv_b = *problem.kv_b;
  RefitSums sums;
  sums.gram.assign(static_cast<size_t>(n_h), Eigen::MatrixXd::Zero(rank, rank));
  sums.cross.assign(static_cast<size_t>(n_h), Eigen::MatrixXd::Zero(v_dim, rank));
  // Heads in parallel (their products, a few hundred wide, are too small for Eigen's own threads),
  // each thread reusing its buffers across sequences. Per head the sequences add up in order, so
  // the result does not depend on the thread count.
#pragma omp parallel
  {
    Mat o, k_nope, q_full, k_full, p, m, m_m(rank, rank), o_m(v_dim, rank);
#pragma omp for schedule(dynamic, 1)
    for (int64_t h = 0; h < n_h; ++h) {
      for (size_t i = 0; i < problem.latents.size(); ++i) {
        const Mat& c = *problem.latents[i];
        const Mat& q_conv = *problem.queries[i];
        o = problem.outputs[i]->middleCols(h * v_dim, v_dim);  // contiguous: Eigen rounds products of strided blocks differently
        k_nope.noalias() = c * kv_b.middleRows(h * (nope + v_dim), nope).transpose();
        q_full.resize(c.rows(), qk);
        k_full.resize(c.rows(), qk);
        q_full << q_conv.middleCols(h * qk, nope), q_conv.middleCols(h * qk + nope, rope);
        k_full << k_nope, *problem.rope_keys[i];
        CausalWeights(q_full, k_full, problem.scale, &p);
        m.noalias() = p * c;
        m_m.noalias() = m.transpose() * m;
        o_m.noalias() = o.transpose() * m;
        sums.gram[static_cast<size_t>(h)] += m_m.cast<double>();
        sums.cross[static_cast<size_t>(h)] += o_m.cast<double>();
      }
    }
  }
  return sums;
}

absl::StatusOr<RefitResult> RefitValueUpProjection(const ModelConfig& source, const MlaShape& shape,
                                                   const cpu::Mat& normed_input,
                                                   const std::vector<cpu::SequenceSlice>& sequences,
                                                   const RefitInputs& inputs, BlockRunner* device, MlaLayer* mla) {
  const int64_t n_h = source.num_attention_heads, d_h = source.head_dim;
  const int64_t rank = shape.kv_lora_rank, nope = shape.qk_nope_head_dim, rope = shape.qk_rope_head_dim;
  const int64_t v_dim = shape.v_head_dim;
  if (d_h != v_dim) {
    return absl::InvalidArgumentError(fmt::format("the value refit needs v_head_dim {} = head_dim {}", v_dim, d_h));
  }
  std::optional<VecD> latent_bias;
  if (mla->kv_a_bias) latent_bias = mla->kv_a_bias->head(rank);
  const FloatLinear latent_proj(mla->kv_a.topRows(rank), latent_bias);
  const Mat kv_b = mla->kv_b.cast<float>();

  int64_t tokens = 0;
  for (const cpu::SequenceSlice& sequence : sequences) tokens += sequence.count;
  std::vector<Mat> latents(sequences.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < sequences.size(); ++i) {
    latents[i] = latent_proj.Apply(normed_input.middleRows(sequences[i].row_begin, sequences[i].count));
  }
  RefitProblem problem{n_h, rank, nope, rope, v_dim, 1.0f / std::sqrt(static_cast<float>(nope + rope)),
                       &kv_b, {}, {}, {}, {}};
  for (size_t i = 0; i < sequences.size(); ++i) {
    problem.latents.push_back(&latents[i]);
    problem.queries.push_back(&inputs.queries[i]);
    problem.rope_keys.push_back(&inputs.rope_keys[i]);
    problem.outputs.push_back(&inputs.original_outputs[i]);
  }
  absl::StatusOr<RefitSums> on_device =
      device != nullptr ? device->AccumulateRefit(problem) : absl::UnimplementedError("no device");
  if (!on_device.ok() && !absl::IsUnimplemented(on_device.status())) return on_device.status();
  const RefitSums sums = on_device.ok() ? *std::move(on_device) : AccumulateRefitSums(problem);

  // The sums hold float32 products, so where few tokens reach a direction of the gram (none at all
  // past the token count), rounding drives its solution. A ridge of a ten-thousandth of one token's
  // latent energy, pulling toward the current weights, keeps those directions; with tokens to spare
  // it is too small to matter.
  const double ridge_per_energy = 1e-4 / static_cast<double>(std::max<int64_t>(tokens, 1));
  // Heads in parallel, each on one thread (so the weights do not depend on the thread count), summed in order.
  std::vector<HeadSolution> solutions(static_cast<size_t>(n_h));
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t h = 0; h < n_h; ++h) {
    const size_t k = static_cast<size_t>(h);
    solutions[k] = SolveHead(sums.gram[k], sums.cross[k], mla->kv_b.middleRows(h * (nope + v_dim) + nope, v_dim),
                             inputs.output_energy[k], ridge_per_energy * sums.gram[k].trace() + 1e-30);
  }
  RefitResult result;
  double total = 0;
  for (int64_t h = 0; h < n_h; ++h) {
    HeadSolution& head = solutions[static_cast<size_t>(h)];
    result.error_before += head.before;
    result.error_after += std::min(head.before, head.after);
    total += inputs.output_energy[static_cast<size_t>(h)];
    if (head.after < head.before) mla->kv_b.middleRows(h * (nope + v_dim) + nope, v_dim) = std::move(head.weights);
  }
  result.error_before /= std::max(total, 1e-300);
  result.error_after /= std::max(total, 1e-300);
  return result;
}

}  // namespace transmla::convert
