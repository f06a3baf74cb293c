#include "core/convert/deepseek_mode.h"

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/convert/symmetric_eigen.h"
#include "core/engine/rope.h"
#include "fmt/format.h"

namespace transmla::convert {
namespace {

// [W | b]: a weight with its bias as an extra input column (the moment's constant channel).
MatD Augment(const MatD& w, const std::optional<VecD>& b) {
  MatD out(w.rows(), w.cols() + 1);
  out.leftCols(w.cols()) = w;
  out.col(w.cols()) = b ? *b : VecD::Zero(w.rows());
  return out;
}

class DeepseekConverter : public LayerConverter {
 public:
  DeepseekConverter(const ModelConfig& source, const DeepseekModeOptions& options)
      : source_(source), options_(options) {
    slots_ = SelectRopeSlots(source.head_dim, options.qk_rope_head_dim / (2 * options.pairs_per_frequency),
                             options.pairs_per_frequency, options.collapse);
  }

  MlaShape shape() const override {
    return {source_.num_attention_heads, options_.q_lora_rank, options_.kv_lora_rank, source_.head_dim,
            options_.qk_rope_head_dim, source_.head_dim};
  }

  std::vector<double> rope_frequencies() const override {
    const std::vector<float> inv_freq = RopeInverseFrequencies(source_, source_.head_dim);
    std::vector<double> out;
    for (const RopeSlot& s : slots_) out.push_back(inv_freq[s.frequency]);
    return out;
  }

  std::vector<double> balance_candidates() const override {
    return options_.alpha_candidates.empty() ? std::vector<double>{options_.alpha} : options_.alpha_candidates;
  }

  absl::StatusOr<std::unique_ptr<Prepared>> Prepare(int64_t index, const GqaLayer& layer, const InputMoment& input,
                                                    BlockRunner* device) override;

 private:
  class PreparedLayer;

  ModelConfig source_;
  DeepseekModeOptions options_;
  std::vector<RopeSlot> slots_;
};

// Everything of a layer's conversion that does not depend on the balance: the RoRoPE rotation,
// the rotated keys, the queries (with the rotation absorbed) and the NoPE query moment.
class DeepseekConverter::PreparedLayer : public LayerConverter::Prepared {
 public:
  PreparedLayer(const DeepseekConverter& c, const GqaLayer& layer, const InputMoment& input, BlockRunner* device)
      : c_(c), layer_(layer), wv_(Augment(layer.wv, layer.bv)) {
    const ModelConfig& source = c.source_;
    const DeepseekModeOptions& options = c.options_;
    const int64_t n_h = source.num_attention_heads, n_kv = source.num_key_value_heads, d_h = source.head_dim;
    const int64_t d = source.hidden_size, latent = n_kv * d_h, group = n_h / n_kv;
    const int64_t rope = options.qk_rope_head_dim;
    const MatD wk = Augment(layer.wk, layer.bk);
    const MatD wq = Augment(layer.wq, layer.bq);

    // The products with the [d+1]^2 input moment are most of a calibrated layer's math: one per
    // weight stack, each head's and each key row's moments taken from it.
    const MatD wq_c = TimesMoment(wq, input);
    std::vector<MatD> head_moments(static_cast<size_t>(n_h));  // Wq_h C Wq_h^T
    for (int64_t h = 0; h < n_h; ++h) {
      head_moments[h] = wq_c.middleRows(h * d_h, d_h) * wq.middleRows(h * d_h, d_h).transpose();
    }
    KeyValueMoments moments = KeyValueMomentsOf(wk, wv_, input);  // of the unrotated keys until the PCA

    MatD query_energy = MatD::Zero(n_kv, d_h / 2);
    if (options.rotation == RotationKind::kHermitianQueryWeighted) {
      for (int64_t h = 0; h < n_h; ++h) {
        const VecD e = head_moments[h].diagonal();
        query_energy.row(h / group) += (e.head(d_h / 2) + e.tail(d_h / 2)).transpose();
      }
    }
    rot_ = ComputeRotation(moments.kk, n_kv, d_h, {options.rotation, options.freqfold, c.slots_}, query_energy);
    keys_ = rot_.key_map * wk;

    std::vector<bool> is_rope(static_cast<size_t>(latent), false);
    for (const RopeSlot& s : c.slots_) is_rope[SlotRowA(s, d_h)] = is_rope[SlotRowB(s, d_h)] = true;
    std::vector<int64_t> nope_rows;
    for (int64_t r = 0; r < latent; ++r) {
      if (!is_rope[r]) nope_rows.push_back(r);
    }
    const int64_t nk = static_cast<int64_t>(nope_rows.size());
    keys_nope_.resize(nk, d + 1);
    MatD nope_map(nk, latent);  // the rotation's NoPE rows: keys_nope_ = nope_map wk
    for (int64_t i = 0; i < nk; ++i) {
      keys_nope_.row(i) = keys_.row(nope_rows[i]);
      nope_map.row(i) = rot_.key_map.row(nope_rows[i]);
    }

    // Query second moment on the NoPE dims, summed over heads: sum_g Mq_g[N] (sum_h Wq_h Cx Wq_h^T) Mq_g[N]^T.
    MatD query_moment = MatD::Zero(nk, nk);
    query_nope_maps_.resize(static_cast<size_t>(n_kv));  // Mq_g restricted to N: [nk x d_h]
    for (int64_t g = 0; g < n_kv; ++g) {
      MatD& m = query_nope_maps_[g];
      m.resize(nk, d_h);
      for (int64_t i = 0; i < nk; ++i) m.row(i) = rot_.query_map.block(nope_rows[i], g * d_h, 1, d_h);
      MatD group_moment = MatD::Zero(d_h, d_h);
      for (int64_t h = g * group; h < (g + 1) * group; ++h) group_moment += head_moments[h];
      query_moment += m * group_moment * m.transpose();
    }
    moments.kk = nope_map * moments.kk * nope_map.transpose();
    moments.kv = nope_map * moments.kv;
    pca_.emplace(keys_nope_, wv_, std::move(moments), query_moment, options.balance, device);

    const int64_t qk = d_h + rope;
    const double q_scale = std::sqrt(static_cast<double>(qk) / static_cast<double>(d_h));
    q_aug_.resize(n_h * qk, d + 1);
    for (int64_t h = 0; h < n_h; ++h) {
      const int64_t g = h / group;
      const auto wq_h = wq.middleRows(h * d_h, d_h);
      q_aug_.middleRows(h * qk, d_h) = wq_h * q_scale;
      const auto mq_g = rot_.query_map.middleCols(g * d_h, d_h);
      for (size_t p = 0; p < c.slots_.size(); ++p) {
        q_aug_.row(h * qk + d_h + 2 * p) = mq_g.row(SlotRowA(c.slots_[p], d_h)) * wq_h * q_scale;
        q_aug_.row(h * qk + d_h + 2 * p + 1) = mq_g.row(SlotRowB(c.slots_[p], d_h)) * wq_h * q_scale;
      }
    }
  }

  // Eigen's solver runs on one thread: a layer's candidates decompose in parallel (LAPACK's
  // already uses every core, and Convert then polls for cancellation between candidates).
  void PrepareBalances(const std::vector<double>& balances) override {
    if (DecomposeSymmetricIsThreaded()) return;
    std::vector<JointPcaResult> results = pca_->ComputeEach(c_.options_.kv_lora_rank, balances);
    for (size_t i = 0; i < balances.size(); ++i) pca_by_balance_[balances[i]] = std::move(results[i]);
  }

  absl::StatusOr<MlaLayer> Convert(double balance, nlohmann::json* report) const override {
    const ModelConfig& source = c_.source_;
    const DeepseekModeOptions& options = c_.options_;
    const std::vector<RopeSlot>& slots = c_.slots_;
    const int64_t n_h = source.num_attention_heads, d_h = source.head_dim, d = source.hidden_size;
    const int64_t group = n_h / source.num_key_value_heads;
    const int64_t rope = options.qk_rope_head_dim, rank = options.kv_lora_rank;
    std::optional<JointPcaResult> computed;
    const auto found = pca_by_balance_.find(balance);
    const JointPcaResult& pca =
        found != pca_by_balance_.end() ? found->second : computed.emplace(pca_->Compute(rank, balance));

    MlaLayer out;
    out.q_proj = q_aug_.leftCols(d);
    if (layer_.bq) out.q_bias = q_aug_.col(d);

    MatD kv_a_aug(rank + rope, d + 1);
    kv_a_aug.topRows(rank) = pca.latent;
    for (size_t p = 0; p < slots.size(); ++p) {
      kv_a_aug.row(rank + 2 * p) = keys_.row(SlotRowA(slots[p], d_h));
      kv_a_aug.row(rank + 2 * p + 1) = keys_.row(SlotRowB(slots[p], d_h));
    }
    out.kv_a = kv_a_aug.leftCols(d);
    if (!kv_a_aug.col(d).isZero(0.0)) out.kv_a_bias = kv_a_aug.col(d);
    out.kv_a_norm = VecD::Ones(rank);
    out.kv_b.resize(n_h * 2 * d_h, rank);
    for (int64_t h = 0; h < n_h; ++h) {
      const int64_t g = h / group;
      out.kv_b.middleRows(h * 2 * d_h, d_h) = query_nope_maps_[g].transpose() * pca.key_up;
      out.kv_b.middleRows(h * 2 * d_h + d_h, d_h) = pca.value_up.middleRows(g * d_h, d_h);
    }
    out.o_proj = layer_.wo;

    double rope_energy = 0, total_energy = 0;
    for (size_t c = 0; c < rot_.energy.size(); ++c) {
      for (size_t a = 0; a < rot_.energy[c].size(); ++a) total_energy += rot_.energy[c][a];
    }
    for (const RopeSlot& s : slots) rope_energy += rot_.energy[s.component][s.frequency];
    if (options.freqfold > 1) (*report)["freqfold"] = options.freqfold;
    (*report)["rope_key_energy_fraction"] = total_energy > 0 ? rope_energy / total_energy : 1.0;
    (*report)["pca_energy_kept"] = pca.energy_kept;
    (*report)["key_nope_relative_error"] = pca.key_relative_error;
    (*report)["value_relative_error"] = pca.value_relative_error;
    (*report)["kv_lora_rank"] = rank;
    (*report)["balance_alpha"] = balance;
    return out;
  }

 private:
  const DeepseekConverter& c_;
  const GqaLayer& layer_;
  const MatD wv_;
  Rotation rot_;
  MatD keys_, keys_nope_, q_aug_;
  std::vector<MatD> query_nope_maps_;
  std::optional<JointPca> pca_;  // refers to keys_nope_ and wv_
  std::map<double, JointPcaResult> pca_by_balance_;  // from PrepareBalances
};

absl::StatusOr<std::unique_ptr<LayerConverter::Prepared>> DeepseekConverter::Prepare(int64_t, const GqaLayer& layer,
                                                                                    const InputMoment& input,
                                                                                    BlockRunner* device) {
  return std::unique_ptr<Prepared>(std::make_unique<PreparedLayer>(*this, layer, input, device));
}

// Frequencies that turn less than a radian over the whole context carry almost no position: the
// default keeps RoPE on the others (one pair each, times m), at most DeepSeek's 64 dims, which
// fused MLA kernels (FlashMLA) assume.
int64_t DefaultRopeDims(const ModelConfig& source, int64_t pairs_per_frequency) {
  constexpr int64_t kDeepseekRopeDims = 64;
  int64_t turning = 0;
  for (float f : RopeInverseFrequencies(source, source.head_dim)) {
    turning += static_cast<double>(f) * static_cast<double>(source.max_position_embeddings) >= 1.0;
  }
  const int64_t pairs = std::max<int64_t>(1, std::min(turning, kDeepseekRopeDims / (2 * pairs_per_frequency)));
  return 2 * pairs_per_frequency * pairs;
}

}  // namespace

absl::StatusOr<DeepseekModeOptions> ResolveDeepseekOptions(const ModelConfig& source, DeepseekModeOptions o) {
  const int64_t n_kv = source.num_key_value_heads, d_h = source.head_dim, half = d_h / 2;
  if (o.pairs_per_frequency < 1 || o.pairs_per_frequency > n_kv) {
    return absl::InvalidArgumentError(
        fmt::format("rope pairs per frequency must be in [1, {}] (num_key_value_heads), got {}", n_kv,
                    o.pairs_per_frequency));
  }
  if (o.collapse < 1 || o.collapse > half) {
    return absl::InvalidArgumentError(fmt::format("collapse must be in [1, {}], got {}", half, o.collapse));
  }
  if (o.freqfold < 1 || o.freqfold > half || half % o.freqfold != 0) {
    return absl::InvalidArgumentError(
        fmt::format("freqfold must divide head_dim / 2 = {} (1 = no fold), got {}", half, o.freqfold));
  }
  if (o.qk_rope_head_dim == 0) o.qk_rope_head_dim = DefaultRopeDims(source, o.pairs_per_frequency);
  const int64_t available = (half + o.collapse - 1) / o.collapse;  // frequencies the collapse keeps
  if (o.qk_rope_head_dim < 0 || o.qk_rope_head_dim % (2 * o.pairs_per_frequency) != 0 ||
      o.qk_rope_head_dim / (2 * o.pairs_per_frequency) > available) {
    return absl::InvalidArgumentError(fmt::format(
        "qk_rope_head_dim {} must be a multiple of 2 x pairs per frequency ({}) and at most {} (head_dim {}, "
        "collapse {})",
        o.qk_rope_head_dim, o.pairs_per_frequency, 2 * o.pairs_per_frequency * available, d_h, o.collapse));
  }
  const int64_t q_dim = source.num_attention_heads * (d_h + o.qk_rope_head_dim);
  if (o.q_lora_rank < 0 || o.q_lora_rank > std::min(q_dim, source.hidden_size + 1)) {
    return absl::InvalidArgumentError(fmt::format("q_lora_rank must be in [0, {}], got {}",
                                                  std::min(q_dim, source.hidden_size + 1), o.q_lora_rank));
  }
  const int64_t max_rank = 2 * n_kv * d_h - o.qk_rope_head_dim;
  if (o.kv_lora_rank == 0) o.kv_lora_rank = n_kv * d_h / 2;
  if (o.kv_lora_rank < 1 || o.kv_lora_rank > max_rank) {
    return absl::InvalidArgumentError(fmt::format("kv_lora_rank must be in [1, {}] (2 x n_kv x head_dim - "
                                                  "qk_rope_head_dim), got {}",
                                                  max_rank, o.kv_lora_rank));
  }
  for (double a : o.alpha_candidates) {
    if (!(a > 0) || !std::isfinite(a)) return absl::InvalidArgumentError(fmt::format("balance alpha must be > 0, got {}", a));
  }
  if (!(o.alpha > 0) || !std::isfinite(o.alpha)) {
    return absl::InvalidArgumentError(fmt::format("balance alpha must be > 0, got {}", o.alpha));
  }
  return o;
}

std::unique_ptr<LayerConverter> MakeDeepseekConverter(const ModelConfig& source, const DeepseekModeOptions& options) {
  return std::make_unique<DeepseekConverter>(source, options);
}

}  // namespace transmla::convert
