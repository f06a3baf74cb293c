#include "client/remote/conversion_connection.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "client/progress_bar.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cli {

namespace v1 = transmla::v1;

absl::StatusOr<v1::Job> WatchUntilDone(ConversionConnection& connection, const std::string& job_id, bool show_logs) {
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(connection.options, /*with_deadline=*/false);
  std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader = connection.stub->WatchJob(context.get(), request);
  ProgressBar bar("job " + job_id);
  v1::JobEvent event;
  v1::Job last;
  bool seen = false;
  while (reader->Read(&event)) {
    last = event.job();
    seen = true;
    if (show_logs) {
      for (const v1::LogLine& line : event.logs()) {
        bar.Finish();
        std::fprintf(stderr, "[%s] %s\n", line.level().c_str(), line.message().c_str());
      }
    }
    const v1::JobProgress& p = last.progress();
    if (last.state() == v1::JOB_STATE_RUNNING && p.layers() > 0) {
      bar.Update(p.layer(), p.layers(), fmt::format("{} {:.1f} MiB", p.stage(), p.bytes_written() / 1048576.0));
    }
  }
  bar.Finish();
  RETURN_IF_ERROR(FromGrpc(reader->Finish(), "WatchJob"));
  if (!seen) return absl::UnavailableError("WatchJob: the stream ended before any event");
  return last;
}

absl::Status JobOutcome(const v1::Job& job) {
  switch (job.state()) {
    case v1::JOB_STATE_SUCCEEDED: return absl::OkStatus();
    case v1::JOB_STATE_CANCELLED: return absl::CancelledError(fmt::format("job {} was cancelled", job.job_id()));
    case v1::JOB_STATE_FAILED:
      return absl::Status(static_cast<absl::StatusCode>(job.error_code()),
                          fmt::format("job {} failed: {}", job.job_id(), job.error_message()));
    default:
      return absl::FailedPreconditionError(fmt::format("job {} is {}", job.job_id(), JobStateName(job.state())));
  }
}

std::string JobStateName(v1::JobState state) {
  std::string name = v1::JobState_Name(state);
  name = name.substr(std::string("JOB_STATE_").size());
  absl::AsciiStrToLower(&name);
  return name;
}

}  // namespace transmla::cli
