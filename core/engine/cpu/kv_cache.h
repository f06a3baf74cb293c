#ifndef TRANSMLA_CORE_ENGINE_CPU_KV_CACHE_H_
#define TRANSMLA_CORE_ENGINE_CPU_KV_CACHE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "core/engine/engine.h"

namespace transmla::cpu {

// Bytes of KV cache held by all sequences of one engine, against an optional limit.
class KvBudget {
 public:
  explicit KvBudget(int64_t limit_bytes) : limit_(limit_bytes) {}
  // Reserves `bytes` more, or fails with ResourceExhausted (nothing reserved) past the limit.
  absl::Status Reserve(int64_t bytes);
  void Release(int64_t bytes) { used_.fetch_sub(bytes); }
  int64_t used() const { return used_.load(); }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;  // 0: unlimited
  std::atomic<int64_t> used_{0};
};

// One sequence's cache: per layer, one row of `values_per_token` floats per cached position (GQA
// stores K then V; MLA stores the latent then the shared RoPE key). Capacity grows geometrically;
// the budget is charged for the positions held.
class KvCache : public Sequence {
 public:
  KvCache(int64_t layers, int64_t values_per_token, std::shared_ptr<KvBudget> budget);
  ~KvCache() override;

  int64_t length() const override { return length_; }
  int64_t kv_bytes() const override;
  void Truncate(int64_t length) override;

  // Makes room for `extra` more positions (charging the budget); the rows at length() ...
  // length() + extra - 1 become writable through Row(). Commit(extra) then makes them part of
  // the sequence; Truncate(length()) instead gives the reservation back.
  absl::Status Reserve(int64_t extra);
  void Commit(int64_t extra) { length_ += extra; }

  float* Row(int64_t layer, int64_t position) {
    return layers_[layer].data() + position * values_per_token_;
  }
  const float* Row(int64_t layer, int64_t position) const {
    return layers_[layer].data() + position * values_per_token_;
  }
  int64_t values_per_token() const { return values_per_token_; }

 private:
  const int64_t values_per_token_;
  std::shared_ptr<KvBudget> budget_;
  std::vector<std::vector<float>> layers_;
  int64_t length_ = 0;
  int64_t charged_positions_ = 0;
};

}  // namespace transmla::cpu

#endif  // TRANSMLA_CORE_ENGINE_CPU_KV_CACHE_H_
