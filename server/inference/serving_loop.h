#ifndef TRANSMLA_SERVER_INFERENCE_SERVING_LOOP_H_
#define TRANSMLA_SERVER_INFERENCE_SERVING_LOOP_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/engine/decode_state.h"
#include "core/engine/model_loader.h"
#include "server/inference/serving_request.h"

namespace transmla::server {

struct ServingLoopOptions {
  int queue_limit = 256;  // waiting requests beyond which Submit is RESOURCE_EXHAUSTED
  int max_batch = 32;     // sequences decoding together at most
};

// What the loop reports after every step (for metrics and GetModel).
struct ServingStats {
  int waiting = 0;
  int running = 0;
  int64_t kv_bytes = 0;
};

struct ServingObserver {
  std::function<void(const ServingStats&)> on_step;
  std::function<void(double seconds)> on_first_token;  // arrival to first token
  std::function<void(int64_t tokens)> on_tokens;       // tokens generated in a step
};

// Continuous batching for one model: a thread that admits waiting requests between engine steps
// (their prompts prefill in the same Forward as the others' next tokens), samples every running
// sequence, streams what became final, and drops finished and cancelled sequences at once (their
// KV cache is freed with them).
class ServingLoop {
 public:
  ServingLoop(LoadedModel* model, ServingLoopOptions options, ServingObserver observer);
  ~ServingLoop();  // Stop()s

  // Queues a request (it must have a non-empty prompt and validated sampling). ResourceExhausted
  // when the queue is full; Aborted once the loop is stopping.
  absl::Status Submit(std::shared_ptr<ServingRequest> request);

  // Runs `work` with the engine to itself (between steps), e.g. a perplexity evaluation.
  void RunExclusive(const std::function<void(LoadedModel&)>& work);

  // Fails every waiting and running request with Aborted(`reason`) and ends the thread.
  void Stop(const std::string& reason = "model unloaded");

  ServingStats stats() const;

 private:
  struct Running {
    std::shared_ptr<ServingRequest> request;
    std::unique_ptr<Sequence> cache;
    DecodeState state;
    bool first_token_sent = false;
  };

  void Loop();
  void Admit();
  void DropCancelled();
  // One engine step over every running sequence; sequences the engine refuses fail alone.
  void Step();
  void Finish(Running& r, absl::StatusOr<GenerationResult> outcome);
  void Publish();

  LoadedModel* model_;
  const ServingLoopOptions options_;
  const ServingObserver observer_;
  mutable absl::Mutex queue_mutex_;
  std::vector<std::shared_ptr<ServingRequest>> waiting_ ABSL_GUARDED_BY(queue_mutex_);
  bool stopping_ ABSL_GUARDED_BY(queue_mutex_) = false;
  std::string stop_reason_ ABSL_GUARDED_BY(queue_mutex_);
  ServingStats stats_ ABSL_GUARDED_BY(queue_mutex_);
  absl::Mutex engine_mutex_;  // held for each step and by RunExclusive
  std::vector<Running> running_;  // the loop thread's own
  std::thread thread_;
};

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_INFERENCE_SERVING_LOOP_H_
