#ifndef TRANSMLA_SERVER_CONVERSION_JOB_QUEUE_H_
#define TRANSMLA_SERVER_CONVERSION_JOB_QUEUE_H_

#include <atomic>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/convert/options.h"
#include "server/common/metrics.h"
#include "server/conversion/job_store.h"

namespace transmla::server {

// Does one job's work: builds the output folder `destination` (which must not exist before and
// must appear whole or not at all, as convert::ConvertModel does) and returns the report JSON.
// Calls `progress` as it goes and stops with Cancelled soon after `cancelled` turns true.
using JobRunner = std::function<absl::StatusOr<std::string>(
    const JobRecord& job, const std::filesystem::path& destination, const convert::ProgressCallback& progress,
    const convert::CancelCheck& cancelled)>;

struct JobQueueOptions {
  std::filesystem::path artifact_root;  // job outputs go to artifact_root/<job_id>/model
  int concurrency = 1;                  // jobs running at once
  int queue_limit = 64;                 // queued jobs beyond which Submit is ResourceExhausted
  int max_attempts = 3;                 // see JobStore::RecoverInterrupted
};

struct LiveProgress {
  std::string stage = "queued";
  int64_t layer = 0;
  int64_t layers = 0;
  int64_t bytes_written = 0;
  double elapsed_seconds = 0;
  double eta_seconds = -1;
  bool cancel_requested = false;
};

struct LogEntry {
  int64_t seq = 0;  // increasing over all jobs; a watcher asks for entries after the last it saw
  int64_t time_ms = 0;
  std::string level;
  std::string message;
};

// A job as a watcher sees it: the durable record, the live progress and recent log lines.
struct JobView {
  JobRecord record;
  LiveProgress progress;
  std::vector<LogEntry> logs;
};

// Runs queued jobs on `concurrency` worker threads, oldest first, and keeps the store's states
// true: a job is SUCCEEDED only once its output is published and hashed, and its artifact list
// is committed in the same transaction. Cancellation and shutdown reach a running job through
// the runner's CancelCheck; a cancelled or failed job leaves no output behind.
class JobQueue {
 public:
  JobQueue(JobStore* store, JobRunner runner, JobQueueOptions options, ConversionMetrics* metrics);
  ~JobQueue();

  // Recovers jobs a crash interrupted (re-queued or failed, see JobStore), removes every output
  // folder that does not belong to a SUCCEEDED job (half-written ones included), queues the
  // QUEUED jobs in submission order and starts the workers.
  absl::Status Start();

  // Inserts `job` (QUEUED) and queues it. Unavailable while draining, ResourceExhausted when the
  // queue is full, AlreadyExists when the id is taken.
  absl::Status Submit(const JobRecord& job);

  // A QUEUED job becomes CANCELLED at once; a RUNNING one is asked to stop (it becomes CANCELLED
  // when its runner returns). OK for a CANCELLED job; FailedPrecondition for SUCCEEDED/FAILED.
  absl::Status Cancel(const std::string& job_id);

  // Deletes a terminal job: first its row (so nothing lists it any more), then its output folder.
  // FailedPrecondition while it is QUEUED or RUNNING.
  absl::Status Delete(const std::string& job_id);

  // The job with log lines whose seq > log_after. NotFound for an unknown job.
  absl::StatusOr<JobView> View(const std::string& job_id, int64_t log_after);

  // A counter that grows on every change of any job. WaitForChange returns when it exceeds
  // `seen` or after `timeout`, whichever is first, with its value.
  uint64_t version();
  uint64_t WaitForChange(uint64_t seen, absl::Duration timeout);

  // Stops taking work (Submit turns Unavailable), waits up to `grace` for running jobs, then
  // asks the rest to stop and re-queues them (they restart on the next start), and joins the
  // workers. Queued jobs stay QUEUED in the store.
  void Drain(absl::Duration grace);
  bool draining();
  // True once Drain has finished: no job will change any more in this process.
  bool stopped();

  // Where a job's output lives.
  std::filesystem::path JobDir(const std::string& job_id) const { return options_.artifact_root / job_id; }
  std::filesystem::path OutputDir(const std::string& job_id) const { return JobDir(job_id) / "model"; }

  // Appends a line to a job's log (kept for watchers) and to the server log.
  void Log(const std::string& job_id, const std::string& level, const std::string& message);

 private:
  enum class StopReason : int { kNone = 0, kClient = 1, kShutdown = 2 };
  struct Live {
    LiveProgress progress;
    std::deque<LogEntry> logs;
    std::shared_ptr<std::atomic<int>> stop = std::make_shared<std::atomic<int>>(0);
    bool running = false;
    absl::Time started;
  };

  void WorkerLoop();
  void RunJob(const std::string& job_id, std::shared_ptr<std::atomic<int>> stop);
  void Finish(const std::string& job_id, const absl::StatusOr<std::string>& result, StopReason reason,
              absl::Time started);
  absl::Status RemoveUnfinishedOutputs();
  void OnProgress(const std::string& job_id, absl::Time started, const convert::ConversionProgress& p);
  void UpdateStateGauges();
  void BumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  JobStore* const store_;
  const JobRunner runner_;
  const JobQueueOptions options_;
  ConversionMetrics* const metrics_;

  absl::Mutex mu_;
  absl::CondVar changed_;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t log_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::string> queued_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Live> live_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

// Milliseconds since the Unix epoch.
int64_t NowMs();

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_CONVERSION_JOB_QUEUE_H_
