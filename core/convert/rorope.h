#ifndef TRANSMLA_CORE_CONVERT_RO_ROPE_H_
#define TRANSMLA_CORE_CONVERT_RO_ROPE_H_

#include <cstdint>
#include <vector>

#include "core/convert/mla_layer.h"

namespace transmla::convert {

// RoRoPE: per RoPE frequency, a transform across the n_kv key heads that concentrates the keys'
// energy in the first components, so that only those keep RoPE. Each head's pair (i, i + d_h/2) at
// frequency i is a complex number z_j; the transform T (n_kv x n_kv) maps z to y = T z. A complex
// scalar on a pair is a rotation-scale, which commutes with RoPE, so RoPE(y) = T RoPE(z); queries
// get T^-H and every q.k is unchanged.
enum class RotationKind {
  kHermitian,  // unitary eigenvectors of sum z z^H (aligns phases across heads)
  kReal,       // TransMLA: eigenvectors of Re(sum z z^H), a real orthogonal mix
  // Hermitian after weighting each head by sqrt of its group's query energy at that frequency, so
  // components are ranked by their share of q.k rather than key energy (not unitary: queries get
  // the exact inverse).
  kHermitianQueryWeighted,
};

struct Rotation {
  MatD key_map;    // [n_kv*d_h x n_kv*d_h], real; rotated keys = key_map * k (rotate-half layout per virtual head)
  MatD query_map;  // key_map^-T: a query in kv group g maps to query_map.middleCols(g*d_h, d_h) * q
  // energy[c][i]: eigenvalue of component c at frequency i (key energy it holds).
  std::vector<std::vector<double>> energy;
};

// Which (component c, frequency i) pairs keep RoPE, in the order their k_pe pair slots take:
// by frequency index, then component.
struct RopeSlot {
  int64_t component = 0;
  int64_t frequency = 0;
};

// FreqFold (TransMLA): one transform per band of `freqfold` adjacent frequencies across all n_kv
// heads (n_kv x freqfold complex values), so a band's top components can hold more of its energy.
// Components mix frequencies, so RoPE on them is an approximation (exact only when freqfold is 1).
struct RotationOptions {
  RotationKind kind = RotationKind::kHermitian;
  int64_t freqfold = 1;
  // The pairs that will keep RoPE: within a band, the strongest components go to these slots first.
  std::vector<RopeSlot> rope_slots;
};

// Computes the rotation from the key covariance Ck = W_k Cx W_k^T (rotate-half layout per head).
// `query_energy` ([n_kv x d_h/2]: per kv group and frequency, the summed E|q_pair|^2 of its query
// heads) is used by kHermitianQueryWeighted only.
Rotation ComputeRotation(const MatD& key_covariance, int64_t kv_heads, int64_t head_dim,
                         const RotationOptions& options, const MatD& query_energy = MatD());

// The top `pairs_per_frequency` components of each of the `frequencies` highest frequencies
// (frequency index 0 is the highest in HF order), or every `collapse`-th frequency when collapse > 1.
std::vector<RopeSlot> SelectRopeSlots(int64_t head_dim, int64_t frequencies, int64_t pairs_per_frequency,
                                      int64_t collapse);

// The two latent rows (rotate-half layout of virtual head `component`) of a slot.
inline int64_t SlotRowA(const RopeSlot& s, int64_t head_dim) { return s.component * head_dim + s.frequency; }
inline int64_t SlotRowB(const RopeSlot& s, int64_t head_dim) {
  return s.component * head_dim + head_dim / 2 + s.frequency;
}

}  // namespace transmla::convert

#endif  // TRANSMLA_CORE_CONVERT_RO_ROPE_H_
