#ifndef TRANSMLA_SERVER_INFERENCE_SERVING_REQUEST_H_
#define TRANSMLA_SERVER_INFERENCE_SERVING_REQUEST_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/engine/generate.h"

namespace transmla::server {

// Text and token ids that became final since the previous chunk.
struct GenerationChunk {
  std::string text;
  std::vector<int32_t> token_ids;
};

// One generation request, shared by the RPC handler (which waits on it and writes the answer) and
// the model's serving loop (which decodes it between engine steps).
class ServingRequest {
 public:
  using Clock = std::chrono::steady_clock;

  ServingRequest(std::vector<int32_t> prompt, SamplingParams params)
      : prompt_(std::move(prompt)), params_(std::move(params)), arrival_(Clock::now()) {}

  const std::vector<int32_t>& prompt() const { return prompt_; }
  const SamplingParams& params() const { return params_; }
  Clock::time_point arrival() const { return arrival_; }

  // Handler side: the client went away or its deadline passed. The loop drops the sequence (and
  // its KV cache) at its next step.
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

  // Handler side: waits up to `timeout` for chunks or the end; moves the chunks produced so far
  // into `chunks` and, once finished, the outcome into `outcome`.
  void Wait(absl::Duration timeout, std::vector<GenerationChunk>* chunks,
            std::optional<absl::StatusOr<GenerationResult>>* outcome);

  // Loop side.
  void Push(GenerationChunk chunk);
  void Finish(absl::StatusOr<GenerationResult> outcome);

 private:
  const std::vector<int32_t> prompt_;
  const SamplingParams params_;
  const Clock::time_point arrival_;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mutex_;
  std::vector<GenerationChunk> chunks_ ABSL_GUARDED_BY(mutex_);
  std::optional<absl::StatusOr<GenerationResult>> outcome_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_INFERENCE_SERVING_REQUEST_H_
