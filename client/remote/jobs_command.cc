#include <cstdio>
#include <iostream>

#include "absl/strings/ascii.h"
#include "client/command.h"
#include "client/remote/artifact_download.h"
#include "client/remote/proto_json.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cli {
namespace {

namespace v1 = transmla::v1;

std::string ModeName(const v1::Job& job) {
  return job.request().options().mode() == v1::CONVERSION_MODE_EXACT ? "exact" : "deepseek";
}

std::string ProgressText(const v1::Job& job) {
  const v1::JobProgress& p = job.progress();
  if (p.layers() == 0) return "-";
  return fmt::format("{}/{} {}", p.layer(), p.layers(), p.stage());
}

void PrintJob(const v1::Job& job) {
  std::printf("job       %s\nstate     %s\nsource    %s\nmode      %s\nprogress  %s\nattempts  %d\n",
              job.job_id().c_str(), JobStateName(job.state()).c_str(), job.request().source_model().c_str(),
              ModeName(job).c_str(), ProgressText(job).c_str(), job.attempts());
  if (job.state() == v1::JOB_STATE_RUNNING && job.progress().eta_seconds() >= 0) {
    std::printf("eta       %.0f s\n", job.progress().eta_seconds());
  }
  if (job.error_code() != 0) std::printf("error     %s\n", job.error_message().c_str());
}

absl::StatusOr<v1::JobState> ParseState(const std::string& name) {
  const std::string wanted = "JOB_STATE_" + absl::AsciiStrToUpper(name);
  v1::JobState state;
  if (!v1::JobState_Parse(wanted, &state) || state == v1::JOB_STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        fmt::format("--state must be queued, running, succeeded, failed or cancelled, got \"{}\"", name));
  }
  return state;
}

absl::Status RunList(const Flags& flags) {
  ASSIGN_OR_RETURN(ConversionConnection connection, Connect<v1::ConversionService>(flags));
  v1::ListJobsRequest request;
  for (const std::string& name : flags.GetAll("state")) {
    ASSIGN_OR_RETURN(const v1::JobState state, ParseState(name));
    request.add_states(state);
  }
  ASSIGN_OR_RETURN(const int64_t limit, flags.Int("limit", 0));
  if (limit < 0) return absl::InvalidArgumentError("--limit must be >= 0");
  v1::ListJobsResponse all;
  do {  // follow the pages until the end or --limit
    v1::ListJobsResponse page;
    const std::unique_ptr<grpc::ClientContext> context = NewCallContext(connection.options);
    RETURN_IF_ERROR(FromGrpc(connection.stub->ListJobs(context.get(), request, &page), "ListJobs"));
    for (const v1::Job& job : page.jobs()) {
      if (limit == 0 || all.jobs_size() < limit) *all.add_jobs() = job;
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty() && (limit == 0 || all.jobs_size() < limit));
  if (flags.Bool("json")) {
    std::cout << ProtoToJson(all) << "\n";
    return absl::OkStatus();
  }
  std::printf("%-24s %-10s %-9s %-18s %s\n", "JOB", "STATE", "MODE", "PROGRESS", "SOURCE");
  for (const v1::Job& job : all.jobs()) {
    std::printf("%-24s %-10s %-9s %-18s %s\n", job.job_id().c_str(), JobStateName(job.state()).c_str(),
                ModeName(job).c_str(), ProgressText(job).c_str(), job.request().source_model().c_str());
  }
  return absl::OkStatus();
}

// One unary call about the job named by --id.
template <typename Request, typename Response>
absl::StatusOr<Response> CallForJob(const Flags& flags, const std::string& method,
                                    grpc::Status (v1::ConversionService::Stub::*call)(grpc::ClientContext*,
                                                                                      const Request&, Response*)) {
  ASSIGN_OR_RETURN(ConversionConnection connection, Connect<v1::ConversionService>(flags));
  Request request;
  ASSIGN_OR_RETURN(*request.mutable_job_id(), flags.Required("id"));
  Response response;
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(connection.options);
  RETURN_IF_ERROR(FromGrpc(((*connection.stub).*call)(context.get(), request, &response), method));
  return response;
}

absl::Status RunGet(const Flags& flags) {
  ASSIGN_OR_RETURN(const v1::Job job, (CallForJob<v1::GetJobRequest, v1::Job>(flags, "GetJob",
                                                                               &v1::ConversionService::Stub::GetJob)));
  if (flags.Bool("json")) {
    std::cout << ProtoToJson(job) << "\n";
  } else {
    PrintJob(job);
  }
  return absl::OkStatus();
}

absl::Status RunWatch(const Flags& flags) {
  ASSIGN_OR_RETURN(ConversionConnection connection, Connect<v1::ConversionService>(flags));
  ASSIGN_OR_RETURN(const std::string id, flags.Required("id"));
  ASSIGN_OR_RETURN(const v1::Job job, WatchUntilDone(connection, id, /*show_logs=*/true));
  if (flags.Bool("json")) {
    std::cout << ProtoToJson(job) << "\n";
  } else {
    PrintJob(job);
  }
  return JobOutcome(job);
}

absl::Status RunCancel(const Flags& flags) {
  ASSIGN_OR_RETURN(const v1::Job job, (CallForJob<v1::CancelJobRequest, v1::Job>(
                                          flags, "CancelJob", &v1::ConversionService::Stub::CancelJob)));
  std::printf("job %s: %s%s\n", job.job_id().c_str(), JobStateName(job.state()).c_str(),
              job.cancel_requested() && job.state() == v1::JOB_STATE_RUNNING ? " (cancel requested)" : "");
  return absl::OkStatus();
}

absl::Status RunDelete(const Flags& flags) {
  RETURN_IF_ERROR((CallForJob<v1::DeleteJobRequest, v1::DeleteJobResponse>(flags, "DeleteJob",
                                                                           &v1::ConversionService::Stub::DeleteJob))
                      .status());
  std::printf("job %s deleted\n", flags.Get("id")->c_str());
  return absl::OkStatus();
}

absl::Status RunDownload(const Flags& flags) {
  ASSIGN_OR_RETURN(ConversionConnection connection, Connect<v1::ConversionService>(flags));
  ASSIGN_OR_RETURN(const std::string id, flags.Required("id"));
  ASSIGN_OR_RETURN(const std::string out, flags.Required("out"));
  ASSIGN_OR_RETURN(const DownloadSummary s, DownloadArtifacts(connection, id, out, flags.Bool("force")));
  std::printf("%s: %lld files (%lld already present), %.1f MiB fetched, %.1f MiB resumed\n", out.c_str(),
              static_cast<long long>(s.files), static_cast<long long>(s.files_present), s.bytes_fetched / 1048576.0,
              s.bytes_resumed / 1048576.0);
  return absl::OkStatus();
}

Command JobCommand(const std::string& verb, const std::string& summary, const std::string& usage,
                   std::set<std::string> value_flags, std::set<std::string> bool_flags,
                   std::function<absl::Status(const Flags&)> run) {
  value_flags.insert(RemoteValueFlags().begin(), RemoteValueFlags().end());
  return {"jobs " + verb, summary, "transmla jobs " + verb + " " + usage + " " + RemoteUsage(), value_flags, bool_flags,
          std::move(run)};
}

}  // namespace

std::vector<Command> JobsCommands() {
  return {
      JobCommand("list", "conversion jobs on a server, newest first", "[--state S]... [--limit N] [--json]",
                 {"state", "limit"}, {"json"}, RunList),
      JobCommand("get", "one job's state, progress and error", "ID [--json]", {"id"}, {"json"}, RunGet),
      JobCommand("watch", "follow a job's progress and logs until it ends", "ID [--json]", {"id"}, {"json"},
                 RunWatch),
      JobCommand("cancel", "stop a queued or running job", "ID", {"id"}, {}, RunCancel),
      JobCommand("delete", "remove a finished job and its artifacts", "ID", {"id"}, {}, RunDelete),
      JobCommand("download", "fetch a succeeded job's model (resumes an interrupted download)",
                 "ID --out DIR [--force]", {"id", "out"}, {"force"}, RunDownload),
  };
}

}  // namespace transmla::cli
