#include "server/conversion/conversion_service.h"

#include <charconv>

#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/common/server_setup.h"
#include "server/common/status_mapping.h"
#include "server/conversion/artifacts.h"
#include "server/conversion/job_proto.h"
#include "server/conversion/request_validation.h"
#include "spdlog/spdlog.h"

namespace transmla::server {
namespace {

namespace v1 = transmla::v1;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
// How often a watcher re-checks for client cancellation and shutdown when nothing changes.
constexpr absl::Duration kWatchPoll = absl::Milliseconds(200);

}  // namespace

grpc::Status ConversionServiceImpl::Done(const char* method, const std::string& request_id, const std::string& job_id,
                                         const absl::Status& status) {
  const std::string job = job_id.empty() ? "-" : job_id;
  if (status.ok()) {
    spdlog::debug("[rpc {} req={} job={}] OK", method, request_id, job);
  } else {
    spdlog::info("[rpc {} req={} job={}] {}", method, request_id, job, status.ToString());
    if (metrics_) metrics_->RpcError(method, absl::StatusCodeToString(status.code()));
  }
  return ToGrpcStatus(status);
}

absl::StatusOr<v1::Job> ConversionServiceImpl::CurrentJob(const std::string& job_id, bool with_report) {
  absl::StatusOr<JobView> view = queue_->View(job_id, 0);
  if (!view.ok()) return view.status();
  return JobToProto(*view, with_report);
}

absl::Status ConversionServiceImpl::MatchExisting(const v1::SubmitJobRequest& request, v1::Job* response) {
  absl::StatusOr<v1::Job> existing = CurrentJob(request.job_id(), true);
  if (!existing.ok()) return existing.status();
  if (!google::protobuf::util::MessageDifferencer::Equals(existing->request(), request)) {
    return absl::AlreadyExistsError(
        fmt::format("job_id \"{}\" is already used by a different request", request.job_id()));
  }
  *response = *std::move(existing);
  return absl::OkStatus();
}

absl::Status ConversionServiceImpl::Submit(const v1::SubmitJobRequest& in, v1::Job* response) {
  v1::SubmitJobRequest request = in;
  if (request.job_id().empty()) {
    request.set_job_id("job-" + RandomHex(20));
  } else {
    if (absl::Status s = ValidateJobId("job_id", request.job_id()); !s.ok()) return s;
    // An idempotent retry gets the job it created, whatever has happened to it since.
    if (absl::Status s = MatchExisting(request, response); s.code() != absl::StatusCode::kNotFound) return s;
  }
  absl::StatusOr<ConversionPlan> plan = PlanConversion(request, *models_);
  if (!plan.ok()) return plan.status();
  JobRecord job;
  job.job_id = request.job_id();
  job.request = request.SerializeAsString();
  job.create_time_ms = NowMs();
  absl::Status submitted = queue_->Submit(job);
  if (submitted.code() == absl::StatusCode::kAlreadyExists) return MatchExisting(request, response);  // a racing twin
  if (!submitted.ok()) return submitted;
  queue_->Log(job.job_id, "info", fmt::format("queued: {} ({})", request.source_model(),
                                               convert::ModeName(plan->options.mode)));
  absl::StatusOr<v1::Job> current = CurrentJob(job.job_id, true);
  if (!current.ok()) return current.status();
  *response = *std::move(current);
  return absl::OkStatus();
}

grpc::Status ConversionServiceImpl::SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                                              v1::Job* response) {
  const std::string request_id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) status = Submit(*request, response);
  return Done("SubmitJob", request_id, response->job_id().empty() ? request->job_id() : response->job_id(), status);
}

absl::Status ConversionServiceImpl::Watch(grpc::ServerContext* context, const std::string& job_id,
                                          grpc::ServerWriter<v1::JobEvent>* writer) {
  if (absl::Status s = ValidateJobId("job_id", job_id); !s.ok()) return s;
  int64_t log_after = 0;
  std::string last_sent;
  bool first = true;
  while (true) {
    if (context->IsCancelled()) return absl::CancelledError("the client cancelled the watch");
    const uint64_t version = queue_->version();
    absl::StatusOr<JobView> view = queue_->View(job_id, log_after);
    if (!view.ok()) return view.status();
    const bool terminal = IsTerminal(view->record.state);
    v1::JobEvent event;
    *event.mutable_job() = JobToProto(*view, terminal);
    for (const LogEntry& e : view->logs) {
      *event.add_logs() = LogToProto(e);
      log_after = e.seq;
    }
    const std::string job_bytes = event.job().SerializeAsString();
    if (first || job_bytes != last_sent || event.logs_size() > 0) {
      if (!writer->Write(event)) return absl::CancelledError("the client went away");
      last_sent = job_bytes;
      first = false;
    }
    if (terminal) return absl::OkStatus();
    if (queue_->stopped()) {
      return absl::UnavailableError("the server is shutting down; the job continues after restart, watch it again");
    }
    queue_->WaitForChange(version, kWatchPoll);
  }
}

grpc::Status ConversionServiceImpl::WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                                             grpc::ServerWriter<v1::JobEvent>* writer) {
  const std::string request_id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) status = Watch(context, request->job_id(), writer);
  return Done("WatchJob", request_id, request->job_id(), status);
}

grpc::Status ConversionServiceImpl::GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                                           v1::Job* response) {
  const std::string request_id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) status = ValidateJobId("job_id", request->job_id());
  if (status.ok()) {
    absl::StatusOr<v1::Job> job = CurrentJob(request->job_id(), true);
    status = job.status();
    if (job.ok()) *response = *std::move(job);
  }
  return Done("GetJob", request_id, request->job_id(), status);
}

absl::Status ConversionServiceImpl::List(const v1::ListJobsRequest& request, v1::ListJobsResponse* response) {
  const int page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(fmt::format("page_size must be in [0, {}], got {}", kMaxPageSize, request.page_size()));
  }
  int64_t after = 0;
  const std::string& token = request.page_token();
  if (!token.empty()) {
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), after);
    if (ec != std::errc() || end != token.data() + token.size() || after < 0) {
      return absl::InvalidArgumentError("page_token is not one this server issued");
    }
  }
  std::vector<JobState> states;
  for (int state : request.states()) {
    if (state == v1::JOB_STATE_UNSPECIFIED) continue;
    if (state < v1::JOB_STATE_QUEUED || state > v1::JOB_STATE_CANCELLED) {
      return absl::InvalidArgumentError(fmt::format("states has unknown value {}", state));
    }
    states.push_back(static_cast<JobState>(state));
  }
  absl::StatusOr<std::vector<JobRecord>> jobs = store_->List(states, after, page_size + 1);
  if (!jobs.ok()) return jobs.status();
  const bool more = static_cast<int>(jobs->size()) > page_size;
  if (more) jobs->pop_back();
  for (const JobRecord& record : *jobs) {
    absl::StatusOr<JobView> view = queue_->View(record.job_id, 0);
    *response->add_jobs() = JobToProto(view.ok() ? *view : JobView{record, {}, {}}, false);
  }
  if (more) response->set_next_page_token(std::to_string(jobs->back().seq));
  return absl::OkStatus();
}

grpc::Status ConversionServiceImpl::ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                                             v1::ListJobsResponse* response) {
  const std::string request_id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) status = List(*request, response);
  return Done("ListJobs", request_id, "", status);
}

grpc::Status ConversionServiceImpl::CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                                              v1::Job* response) {
  const std::string request_id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) status = ValidateJobId("job_id", request->job_id());
  if (status.ok()) status = queue_->Cancel(request->job_id());
  if (status.ok()) {
    absl::StatusOr<v1::Job> job = CurrentJob(request->job_id(), true);
    status = job.status();
    if (job.ok()) *response = *std::move(job);
  }
  return Done("CancelJob", request_id, request->job_id(), status);
}

grpc::Status ConversionServiceImpl::DeleteJob(grpc::ServerContext* context, const v1::DeleteJobRequest* request,
                                              v1::DeleteJobResponse* response) {
  const std::string request_id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) status = ValidateJobId("job_id", request->job_id());
  if (status.ok()) status = queue_->Delete(request->job_id());
  return Done("DeleteJob", request_id, request->job_id(), status);
}

grpc::Status ConversionServiceImpl::ListArtifacts(grpc::ServerContext* context, const v1::ListArtifactsRequest* request,
                                                  v1::ListArtifactsResponse* response) {
  const std::string request_id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) status = ValidateJobId("job_id", request->job_id());
  absl::StatusOr<JobRecord> job = status.ok() ? store_->Get(request->job_id()) : absl::StatusOr<JobRecord>(status);
  if (job.ok() && job->state != JobState::kSucceeded) {
    status = absl::FailedPreconditionError(
        fmt::format("job {} is {}; artifacts exist only for succeeded jobs", job->job_id, JobStateName(job->state)));
  } else if (!job.ok()) {
    status = job.status();
  } else {
    absl::StatusOr<std::vector<ArtifactRecord>> artifacts = store_->Artifacts(request->job_id());
    status = artifacts.status();
    for (const ArtifactRecord& a : artifacts.ok() ? *artifacts : std::vector<ArtifactRecord>{}) {
      v1::Artifact* out = response->add_artifacts();
      out->set_path(a.path);
      out->set_size_bytes(a.size);
      out->set_sha256(a.sha256);
      response->set_total_bytes(response->total_bytes() + a.size);
    }
  }
  return Done("ListArtifacts", request_id, request->job_id(), status);
}

absl::Status ConversionServiceImpl::Read(grpc::ServerContext* context, const v1::ReadArtifactRequest& request,
                                         grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  if (absl::Status s = ValidateJobId("job_id", request.job_id()); !s.ok()) return s;
  if (request.read_offset() < 0) return absl::InvalidArgumentError(fmt::format("read_offset must be >= 0, got {}", request.read_offset()));
  if (request.read_limit() < 0) return absl::InvalidArgumentError(fmt::format("read_limit must be >= 0, got {}", request.read_limit()));
  absl::StatusOr<JobRecord> job = store_->Get(request.job_id());
  if (!job.ok()) return job.status();
  if (job->state != JobState::kSucceeded) {
    return absl::FailedPreconditionError(fmt::format("job {} is {}; artifacts exist only for succeeded jobs",
                                                     job->job_id, JobStateName(job->state)));
  }
  // Only files in the committed artifact list are served; the guard also refuses ".." and links
  // that were planted on disk afterwards.
  absl::StatusOr<PathGuard> folder = PathGuard::Create({queue_->OutputDir(request.job_id())});
  if (!folder.ok()) return absl::DataLossError(fmt::format("the output of job {} is missing", request.job_id()));
  absl::StatusOr<std::filesystem::path> file = folder->Resolve("path", request.path());
  if (!file.ok()) return file.status();
  absl::StatusOr<std::vector<ArtifactRecord>> artifacts = store_->Artifacts(request.job_id());
  if (!artifacts.ok()) return artifacts.status();
  const ArtifactRecord* artifact = nullptr;
  for (const ArtifactRecord& a : *artifacts) {
    if (a.path == request.path()) artifact = &a;
  }
  if (artifact == nullptr) return absl::NotFoundError(fmt::format("path \"{}\" is not an artifact of job {}", request.path(), request.job_id()));
  if (request.read_offset() > artifact->size) {
    return absl::OutOfRangeError(fmt::format("read_offset {} is beyond the end of {} ({} bytes)", request.read_offset(),
                                             artifact->path, artifact->size));
  }
  const int64_t end = request.read_limit() == 0 ? artifact->size
                                                : std::min(artifact->size, request.read_offset() + request.read_limit());
  int64_t offset = request.read_offset();
  do {  // at least one chunk, so an empty range still tells the reader the size and digest
    if (context->IsCancelled()) return absl::CancelledError("the client cancelled the read");
    const int64_t want = std::min(kMaxArtifactChunkBytes, end - offset);
    absl::StatusOr<std::string> data = ReadFileRange(*file, offset, want);
    if (!data.ok()) return data.status();
    if (static_cast<int64_t>(data->size()) != want) {
      return absl::DataLossError(fmt::format("{} is shorter than recorded", artifact->path));
    }
    v1::ArtifactChunk chunk;
    chunk.set_offset(offset);
    chunk.set_size_bytes(artifact->size);
    chunk.set_sha256(artifact->sha256);
    *chunk.mutable_data() = *std::move(data);
    if (!writer->Write(chunk)) return absl::CancelledError("the client went away");
    if (metrics_) metrics_->ArtifactBytesServed(static_cast<double>(want));
    offset += want;
  } while (offset < end);
  return absl::OkStatus();
}

grpc::Status ConversionServiceImpl::ReadArtifact(grpc::ServerContext* context, const v1::ReadArtifactRequest* request,
                                                 grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  const std::string request_id = BeginCall(context);
  absl::Status status = auth_->Check(*context);
  if (status.ok()) status = Read(context, *request, writer);
  return Done("ReadArtifact", request_id, request->job_id(), status);
}

}  // namespace transmla::server
