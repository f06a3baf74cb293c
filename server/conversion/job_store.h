#ifndef TRANSMLA_SERVER_CONVERSION_JOB_STORE_H_
#define TRANSMLA_SERVER_CONVERSION_JOB_STORE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

struct sqlite3;

namespace transmla::server {

// Job lifecycle; the numbers are those of transmla.v1.JobState.
enum class JobState { kQueued = 1, kRunning = 2, kSucceeded = 3, kFailed = 4, kCancelled = 5 };
std::string JobStateName(JobState state);  // "queued", "running", ...
bool IsTerminal(JobState state);

struct JobRecord {
  int64_t seq = 0;            // insertion order (paging key)
  std::string job_id;
  JobState state = JobState::kQueued;
  std::string request;        // serialized transmla.v1.SubmitJobRequest
  int64_t create_time_ms = 0;
  int64_t start_time_ms = 0;  // 0: never started
  int64_t end_time_ms = 0;    // 0: not terminal
  int attempts = 0;
  int error_code = 0;         // google.rpc.Code for FAILED / CANCELLED
  std::string error_message;
  std::string report_json;    // SUCCEEDED
};

struct ArtifactRecord {
  std::string path;  // relative to the job's output folder
  int64_t size = 0;
  std::string sha256;
};

// Durable job table in SQLite (WAL journal, synchronous=FULL: a committed state change survives
// SIGKILL and power loss). One connection guarded by a mutex; every change is one transaction, and
// a job's SUCCEEDED state is committed together with its artifact list, so artifacts are listed
// exactly when the job is complete. The schema carries a version (PRAGMA user_version); opening a
// database written by a newer schema fails with FailedPrecondition.
class JobStore {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens or creates `path`. Fails with Unavailable when SQLite cannot open it.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::filesystem::path& path);
  ~JobStore();

  // Adds a QUEUED job. AlreadyExists when job_id is taken.
  absl::Status Insert(const JobRecord& job);
  // NotFound when there is no such job.
  absl::StatusOr<JobRecord> Get(const std::string& job_id);
  // Jobs with seq > after_seq, in seq order, at most `limit`, restricted to `states` when not empty.
  absl::StatusOr<std::vector<JobRecord>> List(const std::vector<JobState>& states, int64_t after_seq, int limit);
  absl::StatusOr<int64_t> CountInState(JobState state);

  // QUEUED -> RUNNING, counting an attempt. FailedPrecondition when the job is not QUEUED.
  absl::Status MarkRunning(const std::string& job_id, int64_t now_ms);
  // RUNNING -> SUCCEEDED with the report and the artifacts, atomically.
  absl::Status MarkSucceeded(const std::string& job_id, int64_t now_ms, const std::string& report_json,
                             const std::vector<ArtifactRecord>& artifacts);
  // QUEUED or RUNNING -> FAILED or CANCELLED with a reason. FailedPrecondition when already terminal.
  absl::Status MarkStopped(const std::string& job_id, JobState state, int64_t now_ms, int error_code,
                           const std::string& message);
  // RUNNING -> QUEUED (a checkpoint at shutdown); the attempt it was in is not counted.
  absl::Status Requeue(const std::string& job_id);
  // Removes a job and its artifact rows. NotFound when there is no such job.
  absl::Status Delete(const std::string& job_id);
  absl::StatusOr<std::vector<ArtifactRecord>> Artifacts(const std::string& job_id);

  // After a crash: every RUNNING job becomes QUEUED again, or FAILED (UNAVAILABLE, with the reason)
  // once it has used max_attempts attempts. Returns the ids of the jobs it touched.
  absl::StatusOr<std::vector<std::string>> RecoverInterrupted(int max_attempts, int64_t now_ms);

 private:
  explicit JobStore(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);

  absl::Mutex mu_;
  sqlite3* db_;
};

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_CONVERSION_JOB_STORE_H_
