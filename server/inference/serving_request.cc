#include "server/inference/serving_request.h"

namespace transmla::server {

void ServingRequest::Wait(absl::Duration timeout, std::vector<GenerationChunk>* chunks,
                          std::optional<absl::StatusOr<GenerationResult>>* outcome) {
  absl::MutexLock lock(&mutex_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mutex_) { return !chunks_.empty() || outcome_.has_value(); };
  mutex_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  for (GenerationChunk& chunk : chunks_) chunks->push_back(std::move(chunk));
  chunks_.clear();
  if (outcome_.has_value()) *outcome = std::move(outcome_);
}

void ServingRequest::Push(GenerationChunk chunk) {
  absl::MutexLock lock(&mutex_);
  chunks_.push_back(std::move(chunk));
}

void ServingRequest::Finish(absl::StatusOr<GenerationResult> outcome) {
  absl::MutexLock lock(&mutex_);
  outcome_ = std::move(outcome);
}

}  // namespace transmla::server
