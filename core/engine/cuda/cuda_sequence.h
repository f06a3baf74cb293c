#ifndef TRANSMLA_CORE_ENGINE_CUDA_CUDA_SEQUENCE_H_
#define TRANSMLA_CORE_ENGINE_CUDA_CUDA_SEQUENCE_H_

#include <algorithm>
#include <memory>
#include <vector>

#include "core/engine/cpu/kv_cache.h"
#include "core/engine/cuda/device_buffer.h"
#include "core/engine/engine.h"
#include "core/util/status_macros.h"

namespace transmla::cuda {

// One sequence's device KV cache: per layer [capacity x token_stride] elements of `element_bytes`
// (GQA: K then V of every kv head; MLA: the latent then k_pe), grown by doubling, charged to the
// engine's byte budget as tokens are reserved.
class CudaSequence : public Sequence {
 public:
  CudaSequence(int64_t layers, int64_t token_stride, int64_t element_bytes, std::shared_ptr<cpu::KvBudget> budget)
      : token_bytes_(token_stride * element_bytes), budget_(std::move(budget)), layers_(static_cast<size_t>(layers)) {}
  ~CudaSequence() override { budget_->Release(charged_ * BytesPerToken()); }

  int64_t length() const override { return length_; }
  int64_t kv_bytes() const override { return length_ * BytesPerToken(); }
  void Truncate(int64_t length) override {
    length_ = std::min(length_, length);
    budget_->Release((charged_ - length_) * BytesPerToken());
    charged_ = length_;
  }

  // Makes room for `extra` more tokens (budget and memory); the length changes only on Commit.
  absl::Status Reserve(int64_t extra) {
    const int64_t want = length_ + extra;
    if (want > charged_) {
      RETURN_IF_ERROR(budget_->Reserve((want - charged_) * BytesPerToken()));
      charged_ = want;
    }
    if (want > capacity_) {
      const int64_t capacity = std::max<int64_t>({want, 2 * capacity_, 16});
      for (DeviceBuffer& layer : layers_) {
        RETURN_IF_ERROR(layer.Reserve(static_cast<size_t>(capacity * token_bytes_), /*keep=*/true));
      }
      capacity_ = capacity;
    }
    return absl::OkStatus();
  }
  void Commit(int64_t extra) { length_ += extra; }
  void* layer(int64_t i) const { return layers_[static_cast<size_t>(i)].get(); }
  int64_t capacity() const { return capacity_; }  // positions each layer's cache holds

 private:
  int64_t BytesPerToken() const { return static_cast<int64_t>(layers_.size()) * token_bytes_; }

  const int64_t token_bytes_;
  std::shared_ptr<cpu::KvBudget> budget_;
  std::vector<DeviceBuffer> layers_;
  int64_t length_ = 0, charged_ = 0, capacity_ = 0;
};

}  // namespace transmla::cuda

#endif  // TRANSMLA_CORE_ENGINE_CUDA_CUDA_SEQUENCE_H_
