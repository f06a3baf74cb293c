#include "core/engine/cpu/kv_cache.h"

#include <algorithm>

#include "fmt/format.h"

namespace transmla::cpu {

absl::Status KvBudget::Reserve(int64_t bytes) {
  if (limit_ <= 0) {
    used_.fetch_add(bytes);
    return absl::OkStatus();
  }
  int64_t current = used_.load();
  while (true) {
    if (current + bytes > limit_) {
      return absl::ResourceExhaustedError(
          fmt::format("KV cache budget exhausted: {} bytes in use, {} more requested, limit {}", current, bytes, limit_));
    }
    if (used_.compare_exchange_weak(current, current + bytes)) return absl::OkStatus();
  }
}

KvCache::KvCache(int64_t layers, int64_t values_per_token, std::shared_ptr<KvBudget> budget)
    : values_per_token_(values_per_token), budget_(std::move(budget)), layers_(static_cast<size_t>(layers)) {}

KvCache::~KvCache() { budget_->Release(kv_bytes()); }

int64_t KvCache::kv_bytes() const {
  return charged_positions_ * static_cast<int64_t>(layers_.size()) * values_per_token_ *
         static_cast<int64_t>(sizeof(float));
}

void KvCache::Truncate(int64_t length) {
  const int64_t before = kv_bytes();
  length_ = std::clamp<int64_t>(length, 0, length_);
  charged_positions_ = length_;
  budget_->Release(before - kv_bytes());
}

absl::Status KvCache::Reserve(int64_t extra) {
  const int64_t needed = length_ + extra;
  if (needed > charged_positions_) {
    const int64_t bytes_per_position = static_cast<int64_t>(layers_.size()) * values_per_token_ * sizeof(float);
    const absl::Status status = budget_->Reserve((needed - charged_positions_) * bytes_per_position);
    if (!status.ok()) return status;
    charged_positions_ = needed;
  }
  for (std::vector<float>& layer : layers_) {
    const size_t want = static_cast<size_t>(needed * values_per_token_);
    if (layer.size() < want) layer.resize(std::max(want, layer.size() * 2));
  }
  return absl::OkStatus();
}

}  // namespace transmla::cpu
