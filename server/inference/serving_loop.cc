#include "server/inference/serving_loop.h"

#include <algorithm>

#include "fmt/format.h"

namespace transmla::server {
namespace {

double SecondsSince(ServingRequest::Clock::time_point start) {
  return std::chrono::duration<double>(ServingRequest::Clock::now() - start).count();
}

}  // namespace

ServingLoop::ServingLoop(LoadedModel* model, ServingLoopOptions options, ServingObserver observer)
    : model_(model), options_(options), observer_(std::move(observer)), thread_([this] { Loop(); }) {}

ServingLoop::~ServingLoop() { Stop(); }

absl::Status ServingLoop::Submit(std::shared_ptr<ServingRequest> request) {
  absl::MutexLock lock(&queue_mutex_);
  if (stopping_) return absl::AbortedError(stop_reason_);
  if (static_cast<int>(waiting_.size()) >= options_.queue_limit) {
    return absl::ResourceExhaustedError(
        fmt::format("the model's queue is full ({} requests waiting); retry later", waiting_.size()));
  }
  waiting_.push_back(std::move(request));
  stats_.waiting = static_cast<int>(waiting_.size());
  return absl::OkStatus();
}

void ServingLoop::RunExclusive(const std::function<void(LoadedModel&)>& work) {
  absl::MutexLock lock(&engine_mutex_);
  work(*model_);
}

void ServingLoop::Stop(const std::string& reason) {
  {
    absl::MutexLock lock(&queue_mutex_);
    if (!stopping_) {
      stopping_ = true;
      stop_reason_ = reason;
    }
  }
  if (thread_.joinable()) thread_.join();
}

ServingStats ServingLoop::stats() const {
  absl::MutexLock lock(&queue_mutex_);
  return stats_;
}

void ServingLoop::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&queue_mutex_);
      auto has_work = [this]() ABSL_SHARED_LOCKS_REQUIRED(queue_mutex_) {
        return stopping_ || !waiting_.empty() || !running_.empty();
      };
      queue_mutex_.AwaitWithTimeout(absl::Condition(&has_work), absl::Milliseconds(100));
      if (stopping_) {
        for (auto& request : waiting_) request->Finish(absl::AbortedError(stop_reason_));
        waiting_.clear();
        for (Running& r : running_) r.request->Finish(absl::AbortedError(stop_reason_));
        running_.clear();
        stats_ = {};
        break;
      }
    }
    Admit();
    DropCancelled();
    if (!running_.empty()) Step();
    Publish();
  }
  if (observer_.on_step) observer_.on_step({});
}

void ServingLoop::Admit() {
  absl::MutexLock lock(&queue_mutex_);
  while (!waiting_.empty() && static_cast<int>(running_.size()) < options_.max_batch) {
    std::shared_ptr<ServingRequest> request = std::move(waiting_.front());
    waiting_.erase(waiting_.begin());
    DecodeState state(request->prompt(), request->params());
    running_.push_back({request, model_->engine->NewSequence(), std::move(state), false});
  }
}

void ServingLoop::DropCancelled() {
  for (Running& r : running_) {
    if (r.request->cancelled()) Finish(r, absl::CancelledError("the client cancelled the request"));
  }
  std::erase_if(running_, [](const Running& r) { return r.request == nullptr; });
}

void ServingLoop::Finish(Running& r, absl::StatusOr<GenerationResult> outcome) {
  if (outcome.ok()) outcome->total_time_s = SecondsSince(r.request->arrival());
  r.request->Finish(std::move(outcome));
  r.request.reset();
  r.cache.reset();  // frees its KV cache now
}

void ServingLoop::Step() {
  absl::MutexLock engine_lock(&engine_mutex_);
  std::vector<Running*> batch;
  for (Running& r : running_) {
    if (r.state.done()) {  // max_tokens 0: nothing to compute
      Finish(r, r.state.result());
      continue;
    }
    batch.push_back(&r);
  }
  std::vector<std::vector<float>> logits;
  auto forward = [&](const std::vector<Running*>& members) {
    std::vector<ForwardStep> steps;
    for (Running* r : members) steps.push_back(r->state.NextStep(r->cache.get()));
    return model_->engine->Forward(steps, &logits);
  };
  std::vector<Running*> stepped = batch;
  if (!batch.empty() && !forward(batch).ok()) {
    // One sequence may exceed the KV budget or the context: run them one by one and fail those.
    stepped.clear();
    std::vector<std::vector<float>> all;
    for (Running* r : batch) {
      const absl::Status status = forward({r});
      if (!status.ok()) {
        Finish(*r, status);
        continue;
      }
      stepped.push_back(r);
      all.push_back(std::move(logits[0]));
    }
    logits = std::move(all);
  }
  std::vector<DecodeState*> states;
  std::vector<size_t> before;  // token counts: a stop token id is not part of the output
  for (Running* r : stepped) {
    states.push_back(&r->state);
    before.push_back(r->state.result().token_ids.size());
  }
  std::vector<std::string> texts = StepEach(states, model_->tokenizer.get(), logits);
  int64_t tokens = 0;
  for (size_t i = 0; i < stepped.size(); ++i) {
    Running& r = *stepped[i];
    GenerationChunk chunk;
    chunk.text = std::move(texts[i]);
    if (r.state.result().token_ids.size() > before[i]) {
      chunk.token_ids.push_back(r.state.last_token());
      ++tokens;
    }
    if (!r.first_token_sent) {
      r.first_token_sent = true;
      r.state.mutable_result().time_to_first_token_s = SecondsSince(r.request->arrival());
      if (observer_.on_first_token) observer_.on_first_token(r.state.result().time_to_first_token_s);
    }
    if (!chunk.text.empty() || !chunk.token_ids.empty()) r.request->Push(std::move(chunk));
    if (r.state.done()) Finish(r, r.state.result());
  }
  if (observer_.on_tokens && tokens > 0) observer_.on_tokens(tokens);
  std::erase_if(running_, [](const Running& r) { return r.request == nullptr; });
}

void ServingLoop::Publish() {
  ServingStats now;
  now.running = static_cast<int>(running_.size());
  for (const Running& r : running_) now.kv_bytes += r.cache->kv_bytes();
  {
    absl::MutexLock lock(&queue_mutex_);
    now.waiting = static_cast<int>(waiting_.size());
    stats_ = now;
  }
  if (observer_.on_step) observer_.on_step(now);
}

}  // namespace transmla::server
