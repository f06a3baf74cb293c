#include "server/conversion/job_queue.h"

#include <algorithm>
#include <regex>

#include "fmt/format.h"
#include "server/conversion/artifacts.h"
#include "spdlog/spdlog.h"

namespace transmla::server {
namespace fs = std::filesystem;
namespace {

constexpr size_t kLogLinesKept = 200;  // per job: enough history for a late watcher, bounded memory

}  // namespace

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

JobQueue::JobQueue(JobStore* store, JobRunner runner, JobQueueOptions options, ConversionMetrics* metrics)
    : store_(store), runner_(std::move(runner)), options_(std::move(options)), metrics_(metrics) {}

JobQueue::~JobQueue() { Drain(absl::ZeroDuration()); }

absl::Status JobQueue::Start() {
  absl::StatusOr<std::vector<std::string>> recovered = store_->RecoverInterrupted(options_.max_attempts, NowMs());
  if (!recovered.ok()) return recovered.status();
  for (const std::string& id : *recovered) {
    absl::StatusOr<JobRecord> job = store_->Get(id);
    if (!job.ok()) return job.status();
    const std::string what = job->state == JobState::kQueued ? "re-queued" : "failed: " + job->error_message;
    Log(id, "warning", fmt::format("the server stopped while this job was running; {}", what));
  }
  if (absl::Status s = RemoveUnfinishedOutputs(); !s.ok()) return s;
  absl::StatusOr<std::vector<JobRecord>> queued = store_->List({JobState::kQueued}, 0, 1 << 30);
  if (!queued.ok()) return queued.status();
  {
    absl::MutexLock lock(&mu_);
    for (const JobRecord& job : *queued) queued_.push_back(job.job_id);
    for (int i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  }
  UpdateStateGauges();
  return absl::OkStatus();
}

absl::Status JobQueue::RemoveUnfinishedOutputs() {
  std::error_code ec;
  static const std::regex kJobIdPattern("[a-z0-9][a-z0-9_-]{0,62}");
  std::vector<fs::path> doomed;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.artifact_root, ec)) {
    const std::string name = entry.path().filename().string();
    // Only folders named like jobs are ours to judge; anything else in the root is left alone.
    if (!std::regex_match(name, kJobIdPattern)) continue;
    absl::StatusOr<JobRecord> job = store_->Get(name);
    if (job.ok() && job->state == JobState::kSucceeded) continue;
    if (!job.ok() && job.status().code() != absl::StatusCode::kNotFound) return job.status();
    doomed.push_back(entry.path());
  }
  if (ec) return absl::UnavailableError(fmt::format("cannot list the artifact root: {}", ec.message()));
  for (const fs::path& path : doomed) {
    spdlog::info("removing unfinished output {}", path.string());
    fs::remove_all(path, ec);
  }
  return absl::OkStatus();
}

absl::Status JobQueue::Submit(const JobRecord& job) {
  absl::MutexLock lock(&mu_);
  if (draining_) return absl::UnavailableError("the server is shutting down and accepts no new jobs");
  if (static_cast<int>(queued_.size()) >= options_.queue_limit) {
    return absl::ResourceExhaustedError(fmt::format("the job queue is full ({} queued)", queued_.size()));
  }
  if (absl::Status s = store_->Insert(job); !s.ok()) return s;
  queued_.push_back(job.job_id);
  live_[job.job_id];
  BumpLocked();
  if (metrics_) metrics_->JobSubmitted();
  return absl::OkStatus();
}

absl::Status JobQueue::Cancel(const std::string& job_id) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = std::find(queued_.begin(), queued_.end(), job_id); it != queued_.end()) {
      queued_.erase(it);
      if (absl::Status s = store_->MarkStopped(job_id, JobState::kCancelled, NowMs(),
                                               static_cast<int>(absl::StatusCode::kCancelled), "cancelled by client");
          !s.ok()) {
        return s;
      }
      live_[job_id].progress.stage = "cancelled";
      BumpLocked();
    } else {
      absl::StatusOr<JobRecord> job = store_->Get(job_id);
      if (!job.ok()) return job.status();
      // A worker still finishing (hashing, bookkeeping) a job already recorded as ended does not
      // take the cancel.
      if (auto live = live_.find(job_id); live != live_.end() && live->second.running && !IsTerminal(job->state)) {
        live->second.stop->store(static_cast<int>(StopReason::kClient));
        live->second.progress.cancel_requested = true;
        BumpLocked();
        return absl::OkStatus();
      }
      if (job->state == JobState::kCancelled) return absl::OkStatus();
      return absl::FailedPreconditionError(
          fmt::format("job {} is {} and cannot be cancelled", job_id, JobStateName(job->state)));
    }
  }
  if (metrics_) metrics_->JobFinished("cancelled", 0);
  UpdateStateGauges();
  Log(job_id, "info", "cancelled before it started");
  return absl::OkStatus();
}

absl::Status JobQueue::Delete(const std::string& job_id) {
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<JobRecord> job = store_->Get(job_id);
    if (!job.ok()) return job.status();
    if (!IsTerminal(job->state)) {
      return absl::FailedPreconditionError(
          fmt::format("job {} is {}; cancel it before deleting it", job_id, JobStateName(job->state)));
    }
    if (absl::Status s = store_->Delete(job_id); !s.ok()) return s;
    live_.erase(job_id);
    BumpLocked();
  }
  std::error_code ec;
  fs::remove_all(JobDir(job_id), ec);
  UpdateStateGauges();
  spdlog::info("[job {}] deleted with its artifacts", job_id);
  return absl::OkStatus();
}

absl::StatusOr<JobView> JobQueue::View(const std::string& job_id, int64_t log_after) {
  absl::StatusOr<JobRecord> record = store_->Get(job_id);
  if (!record.ok()) return record.status();
  JobView view{*std::move(record), {}, {}};
  absl::MutexLock lock(&mu_);
  if (auto it = live_.find(job_id); it != live_.end()) {
    view.progress = it->second.progress;
    for (const LogEntry& e : it->second.logs) {
      if (e.seq > log_after) view.logs.push_back(e);
    }
  }
  if (view.record.state == JobState::kSucceeded) view.progress.stage = "done";
  return view;
}

uint64_t JobQueue::version() {
  absl::MutexLock lock(&mu_);
  return version_;
}

uint64_t JobQueue::WaitForChange(uint64_t seen, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (version_ <= seen && !changed_.WaitWithDeadline(&mu_, deadline)) {
  }
  return version_;
}

bool JobQueue::draining() {
  absl::MutexLock lock(&mu_);
  return draining_;
}

bool JobQueue::stopped() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void JobQueue::Drain(absl::Duration grace) {
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    draining_ = true;
    BumpLocked();
    const absl::Time deadline = absl::Now() + grace;
    while (running_ > 0 && !changed_.WaitWithDeadline(&mu_, deadline)) {
    }
    if (running_ > 0) {
      spdlog::info("shutdown: checkpointing {} running job(s); they restart when the server does", running_);
      for (auto& [id, live] : live_) {
        if (live.running) live.stop->store(static_cast<int>(StopReason::kShutdown));
      }
    }
    while (running_ > 0) changed_.Wait(&mu_);
    stopping_ = true;
    BumpLocked();
    workers = std::move(workers_);
  }
  for (std::thread& t : workers) t.join();
}

void JobQueue::BumpLocked() {
  ++version_;
  changed_.SignalAll();
}

void JobQueue::Log(const std::string& job_id, const std::string& level, const std::string& message) {
  const spdlog::level::level_enum spd = level == "error" ? spdlog::level::err
                                        : level == "warning" ? spdlog::level::warn
                                                             : spdlog::level::info;
  spdlog::log(spd, "[job {}] {}", job_id, message);
  absl::MutexLock lock(&mu_);
  std::deque<LogEntry>& logs = live_[job_id].logs;
  logs.push_back({++log_seq_, NowMs(), level, message});
  if (logs.size() > kLogLinesKept) logs.pop_front();
  BumpLocked();
}

void JobQueue::WorkerLoop() {
  while (true) {
    std::string job_id;
    std::shared_ptr<std::atomic<int>> stop;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || (!draining_ && !queued_.empty()); };
      while (!ready()) changed_.Wait(&mu_);
      if (stopping_) return;
      job_id = queued_.front();
      queued_.pop_front();
      // Taken off the queue and marked running in one step, so Cancel always finds it in one place.
      Live& live = live_[job_id];
      live.running = true;
      live.started = absl::Now();
      live.progress = LiveProgress{"starting"};
      live.stop->store(0);
      stop = live.stop;
      ++running_;
      BumpLocked();
    }
    RunJob(job_id, stop);
    {
      absl::MutexLock lock(&mu_);
      --running_;
      if (auto it = live_.find(job_id); it != live_.end()) it->second.running = false;
      BumpLocked();
    }
  }
}

void JobQueue::RunJob(const std::string& job_id, std::shared_ptr<std::atomic<int>> stop) {
  const absl::Time started = absl::Now();
  if (absl::Status s = store_->MarkRunning(job_id, NowMs()); !s.ok()) {
    spdlog::error("[job {}] cannot start: {}", job_id, s.ToString());
    return;
  }
  UpdateStateGauges();
  absl::StatusOr<JobRecord> job = store_->Get(job_id);
  if (!job.ok()) return;
  Log(job_id, "info", fmt::format("started (attempt {})", job->attempts));
  std::error_code ec;
  fs::remove_all(JobDir(job_id), ec);
  fs::create_directories(JobDir(job_id), ec);
  absl::StatusOr<std::string> result =
      ec ? absl::StatusOr<std::string>(absl::UnavailableError(fmt::format("cannot create the output folder: {}", ec.message())))
         : runner_(*job, OutputDir(job_id),
                   [&](const convert::ConversionProgress& p) { OnProgress(job_id, started, p); },
                   [stop] { return stop->load() != 0; });
  Finish(job_id, result, static_cast<StopReason>(stop->load()), started);
}

void JobQueue::OnProgress(const std::string& job_id, absl::Time started, const convert::ConversionProgress& p) {
  bool new_stage = false;
  {
    absl::MutexLock lock(&mu_);
    LiveProgress& progress = live_[job_id].progress;
    new_stage = progress.stage != p.stage;
    progress.stage = p.stage;
    progress.layer = p.done;
    progress.layers = p.total;
    progress.bytes_written = p.bytes_written;
    progress.elapsed_seconds = absl::ToDoubleSeconds(absl::Now() - started);
    // Layers convert at a steady rate once calibration is done, so the rate so far predicts the rest.
    progress.eta_seconds = (p.stage == "convert" && p.done > 0 && p.total >= p.done)
                               ? progress.elapsed_seconds / p.done * (p.total - p.done)
                               : -1;
    BumpLocked();
  }
  if (new_stage) Log(job_id, "info", fmt::format("stage {}", p.stage));
}

void JobQueue::Finish(const std::string& job_id, const absl::StatusOr<std::string>& result, StopReason reason,
                      absl::Time started) {
  const double seconds = absl::ToDoubleSeconds(absl::Now() - started);
  std::error_code ec;
  std::string final_state;
  absl::Status stored;
  if (result.ok()) {
    {
      absl::MutexLock lock(&mu_);
      live_[job_id].progress.stage = "hash";
      BumpLocked();
    }
    absl::StatusOr<std::vector<ArtifactRecord>> artifacts = DescribeOutputFolder(OutputDir(job_id));
    if (artifacts.ok()) {
      stored = store_->MarkSucceeded(job_id, NowMs(), *result, *artifacts);
      int64_t bytes = 0;
      for (const ArtifactRecord& a : *artifacts) bytes += a.size;
      if (stored.ok() && metrics_) metrics_->ArtifactBytesWritten(static_cast<double>(bytes));
      if (stored.ok()) Log(job_id, "info", fmt::format("succeeded: {} files, {} bytes in {:.1f}s", artifacts->size(), bytes, seconds));
      final_state = "succeeded";
    } else {
      stored = artifacts.status();
    }
  }
  if (!result.ok() || !stored.ok()) {
    fs::remove_all(JobDir(job_id), ec);
    const absl::Status error = result.ok() ? stored : result.status();
    if (error.code() == absl::StatusCode::kCancelled && reason == StopReason::kShutdown) {
      stored = store_->Requeue(job_id);
      Log(job_id, "warning", "stopped by server shutdown; re-queued");
      final_state.clear();
    } else if (error.code() == absl::StatusCode::kCancelled && reason == StopReason::kClient) {
      stored = store_->MarkStopped(job_id, JobState::kCancelled, NowMs(), static_cast<int>(error.code()),
                                   "cancelled by client");
      Log(job_id, "info", fmt::format("cancelled after {:.1f}s", seconds));
      final_state = "cancelled";
    } else {
      stored = store_->MarkStopped(job_id, JobState::kFailed, NowMs(), static_cast<int>(error.code()),
                                   std::string(error.message()));
      Log(job_id, "error", fmt::format("failed: {}", error.ToString()));
      final_state = "failed";
    }
    if (!stored.ok()) spdlog::error("[job {}] cannot record its end: {}", job_id, stored.ToString());
  }
  if (!final_state.empty() && metrics_) metrics_->JobFinished(final_state, seconds);
  UpdateStateGauges();
  absl::MutexLock lock(&mu_);
  BumpLocked();
}

void JobQueue::UpdateStateGauges() {
  if (metrics_ == nullptr) return;
  for (JobState state : {JobState::kQueued, JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                         JobState::kCancelled}) {
    absl::StatusOr<int64_t> count = store_->CountInState(state);
    if (count.ok()) metrics_->SetJobs(JobStateName(state), static_cast<double>(*count));
  }
}

}  // namespace transmla::server
