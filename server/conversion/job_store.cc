#include "server/conversion/job_store.h"

#include <sqlite3.h>

#include "fmt/format.h"
#include "server/conversion/sqlite_statement.h"

namespace transmla::server {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL UNIQUE,
  state INTEGER NOT NULL,
  request BLOB NOT NULL,
  create_time_ms INTEGER NOT NULL,
  start_time_ms INTEGER NOT NULL DEFAULT 0,
  end_time_ms INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  error_code INTEGER NOT NULL DEFAULT 0,
  error_message TEXT NOT NULL DEFAULT '',
  report_json TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, seq);
CREATE TABLE IF NOT EXISTS artifacts (
  job_id TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (job_id, path)
);
)sql";

constexpr const char* kJobColumns =
    "seq, job_id, state, request, create_time_ms, start_time_ms, end_time_ms, attempts, error_code, "
    "error_message, report_json";

JobRecord ReadJob(const SqliteStatement& s) {
  JobRecord r;
  r.seq = s.Int(0);
  r.job_id = s.Text(1);
  r.state = static_cast<JobState>(s.Int(2));
  r.request = s.Text(3);
  r.create_time_ms = s.Int(4);
  r.start_time_ms = s.Int(5);
  r.end_time_ms = s.Int(6);
  r.attempts = static_cast<int>(s.Int(7));
  r.error_code = static_cast<int>(s.Int(8));
  r.error_message = s.Text(9);
  r.report_json = s.Text(10);
  return r;
}

absl::Status ExpectOneChange(sqlite3* db, const std::string& job_id, const char* what) {
  if (sqlite3_changes(db) == 1) return absl::OkStatus();
  return absl::FailedPreconditionError(fmt::format("job {} cannot {} in its current state", job_id, what));
}

}  // namespace

std::string JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kFailed: return "failed";
    case JobState::kCancelled: return "cancelled";
  }
  return "unknown";
}

bool IsTerminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed || state == JobState::kCancelled;
}

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(fmt::format("cannot open job database {}: {}", path.string(), message));
  }
  std::unique_ptr<JobStore> store(new JobStore(db));
  // Another process (an old server still draining) may hold the lock for a moment.
  sqlite3_busy_timeout(db, 5000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (absl::Status s = store->Exec(pragma); !s.ok()) return s;
  }
  SqliteStatement version(db, "PRAGMA user_version");
  const int64_t found = version.Step() ? version.Int(0) : 0;
  if (found > kSchemaVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "job database {} has schema version {}, newer than this server's {}", path.string(), found, kSchemaVersion));
  }
  if (absl::Status s = store->Exec(kSchema); !s.ok()) return s;
  if (absl::Status s = store->Exec(fmt::format("PRAGMA user_version={}", kSchemaVersion).c_str()); !s.ok()) return s;
  return store;
}

JobStore::~JobStore() { sqlite3_close(db_); }

absl::Status JobStore::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return absl::InternalError(fmt::format("sqlite: {}", message));
  }
  return absl::OkStatus();
}

absl::Status JobStore::Insert(const JobRecord& job) {
  absl::MutexLock lock(&mu_);
  SqliteStatement s(db_, "INSERT OR IGNORE INTO jobs (job_id, state, request, create_time_ms) VALUES (?, ?, ?, ?)");
  s.Bind(1, job.job_id).Bind(2, static_cast<int64_t>(JobState::kQueued)).Bind(3, job.request).Bind(4, job.create_time_ms);
  if (absl::Status st = s.Run(); !st.ok()) return st;
  if (sqlite3_changes(db_) == 0) return absl::AlreadyExistsError(fmt::format("job {} already exists", job.job_id));
  return absl::OkStatus();
}

absl::StatusOr<JobRecord> JobStore::Get(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  SqliteStatement s(db_, fmt::format("SELECT {} FROM jobs WHERE job_id = ?", kJobColumns).c_str());
  s.Bind(1, job_id);
  if (s.Step()) return ReadJob(s);
  if (!s.status().ok()) return s.status();
  return absl::NotFoundError(fmt::format("job {} not found", job_id));
}

absl::StatusOr<std::vector<JobRecord>> JobStore::List(const std::vector<JobState>& states, int64_t after_seq,
                                                      int limit) {
  std::string filter;
  for (JobState state : states) filter += fmt::format("{}{}", filter.empty() ? "" : ",", static_cast<int>(state));
  const std::string sql = fmt::format("SELECT {} FROM jobs WHERE seq > ? {} ORDER BY seq LIMIT ?", kJobColumns,
                                      filter.empty() ? "" : fmt::format("AND state IN ({})", filter));
  absl::MutexLock lock(&mu_);
  SqliteStatement s(db_, sql.c_str());
  s.Bind(1, after_seq).Bind(2, static_cast<int64_t>(limit));
  std::vector<JobRecord> jobs;
  while (s.Step()) jobs.push_back(ReadJob(s));
  if (!s.status().ok()) return s.status();
  return jobs;
}

absl::StatusOr<int64_t> JobStore::CountInState(JobState state) {
  absl::MutexLock lock(&mu_);
  SqliteStatement s(db_, "SELECT COUNT(*) FROM jobs WHERE state = ?");
  s.Bind(1, static_cast<int64_t>(state));
  const int64_t count = s.Step() ? s.Int(0) : 0;
  if (!s.status().ok()) return s.status();
  return count;
}

absl::Status JobStore::MarkRunning(const std::string& job_id, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  SqliteStatement s(db_,
                    "UPDATE jobs SET state = ?, attempts = attempts + 1, "
                    "start_time_ms = CASE start_time_ms WHEN 0 THEN ? ELSE start_time_ms END "
                    "WHERE job_id = ? AND state = ?");
  s.Bind(1, static_cast<int64_t>(JobState::kRunning)).Bind(2, now_ms).Bind(3, job_id).Bind(4, static_cast<int64_t>(JobState::kQueued));
  if (absl::Status st = s.Run(); !st.ok()) return st;
  return ExpectOneChange(db_, job_id, "start");
}

absl::Status JobStore::MarkSucceeded(const std::string& job_id, int64_t now_ms, const std::string& report_json,
                                     const std::vector<ArtifactRecord>& artifacts) {
  absl::MutexLock lock(&mu_);
  if (absl::Status st = Exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  absl::Status status = [&]() -> absl::Status {
    SqliteStatement s(db_, "UPDATE jobs SET state = ?, end_time_ms = ?, report_json = ? WHERE job_id = ? AND state = ?");
    s.Bind(1, static_cast<int64_t>(JobState::kSucceeded)).Bind(2, now_ms).Bind(3, report_json).Bind(4, job_id);
    s.Bind(5, static_cast<int64_t>(JobState::kRunning));
    if (absl::Status st = s.Run(); !st.ok()) return st;
    if (absl::Status st = ExpectOneChange(db_, job_id, "succeed"); !st.ok()) return st;
    for (const ArtifactRecord& a : artifacts) {
      SqliteStatement insert(db_, "INSERT INTO artifacts (job_id, path, size, sha256) VALUES (?, ?, ?, ?)");
      insert.Bind(1, job_id).Bind(2, a.path).Bind(3, a.size).Bind(4, a.sha256);
      if (absl::Status st = insert.Run(); !st.ok()) return st;
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    (void)Exec("ROLLBACK");
    return status;
  }
  return Exec("COMMIT");
}

absl::Status JobStore::MarkStopped(const std::string& job_id, JobState state, int64_t now_ms, int error_code,
                                   const std::string& message) {
  absl::MutexLock lock(&mu_);
  SqliteStatement s(db_,
                    "UPDATE jobs SET state = ?, end_time_ms = ?, error_code = ?, error_message = ? "
                    "WHERE job_id = ? AND state IN (?, ?)");
  s.Bind(1, static_cast<int64_t>(state)).Bind(2, now_ms).Bind(3, static_cast<int64_t>(error_code)).Bind(4, message);
  s.Bind(5, job_id).Bind(6, static_cast<int64_t>(JobState::kQueued)).Bind(7, static_cast<int64_t>(JobState::kRunning));
  if (absl::Status st = s.Run(); !st.ok()) return st;
  return ExpectOneChange(db_, job_id, "stop");
}

absl::Status JobStore::Requeue(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  SqliteStatement s(db_, "UPDATE jobs SET state = ?, attempts = MAX(attempts - 1, 0) WHERE job_id = ? AND state = ?");
  s.Bind(1, static_cast<int64_t>(JobState::kQueued)).Bind(2, job_id).Bind(3, static_cast<int64_t>(JobState::kRunning));
  if (absl::Status st = s.Run(); !st.ok()) return st;
  return ExpectOneChange(db_, job_id, "be re-queued");
}

absl::Status JobStore::Delete(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  SqliteStatement s(db_, "DELETE FROM jobs WHERE job_id = ?");
  s.Bind(1, job_id);
  if (absl::Status st = s.Run(); !st.ok()) return st;
  if (sqlite3_changes(db_) == 0) return absl::NotFoundError(fmt::format("job {} not found", job_id));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ArtifactRecord>> JobStore::Artifacts(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  SqliteStatement s(db_, "SELECT path, size, sha256 FROM artifacts WHERE job_id = ? ORDER BY path");
  s.Bind(1, job_id);
  std::vector<ArtifactRecord> artifacts;
  while (s.Step()) artifacts.push_back({s.Text(0), s.Int(1), s.Text(2)});
  if (!s.status().ok()) return s.status();
  return artifacts;
}

absl::StatusOr<std::vector<std::string>> JobStore::RecoverInterrupted(int max_attempts, int64_t now_ms) {
  absl::StatusOr<std::vector<JobRecord>> running = List({JobState::kRunning}, 0, 1 << 30);
  if (!running.ok()) return running.status();
  std::vector<std::string> touched;
  for (const JobRecord& job : *running) {
    absl::Status st;
    if (job.attempts >= max_attempts) {
      st = MarkStopped(job.job_id, JobState::kFailed, now_ms, static_cast<int>(absl::StatusCode::kUnavailable),
                       fmt::format("interrupted by server restarts {} times", job.attempts));
    } else {
      absl::MutexLock lock(&mu_);
      // Not Requeue(): the attempt that a crash interrupted counts toward max_attempts.
      SqliteStatement s(db_, "UPDATE jobs SET state = ? WHERE job_id = ? AND state = ?");
      s.Bind(1, static_cast<int64_t>(JobState::kQueued)).Bind(2, job.job_id).Bind(3, static_cast<int64_t>(JobState::kRunning));
      st = s.Run();
    }
    if (!st.ok()) return st;
    touched.push_back(job.job_id);
  }
  return touched;
}

}  // namespace transmla::server
