#include <cstdio>
#include <fstream>
#include <iostream>

#include "client/command.h"
#include "client/convert_summary.h"
#include "client/remote/artifact_download.h"
#include "client/remote/conversion_request.h"
#include "core/util/status_macros.h"
#include "fmt/format.h"

namespace transmla::cli {

namespace v1 = transmla::v1;

absl::Status RunRemoteConvert(const Flags& flags) {
  ASSIGN_OR_RETURN(const v1::SubmitJobRequest request, SubmitRequestFromFlags(flags));
  const bool download = !flags.Bool("no-download");
  std::string out;
  if (download) {
    ASSIGN_OR_RETURN(out, flags.Required("out"));
  }
  ASSIGN_OR_RETURN(ConversionConnection connection, Connect<v1::ConversionService>(flags));
  v1::Job job;
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(connection.options);
  RETURN_IF_ERROR(FromGrpc(connection.stub->SubmitJob(context.get(), request, &job), "SubmitJob"));
  std::fprintf(stderr, "transmla: job %s submitted to %s\n", job.job_id().c_str(), connection.options.server.c_str());
  ASSIGN_OR_RETURN(job, WatchUntilDone(connection, job.job_id(), /*show_logs=*/!flags.Bool("json")));
  RETURN_IF_ERROR(JobOutcome(job));
  nlohmann::json report = nlohmann::json::parse(job.report_json(), nullptr, /*allow_exceptions=*/false);
  if (report.is_discarded()) return absl::DataLossError("the job's report is not valid JSON");
  report["job_id"] = job.job_id();
  if (download) {
    ASSIGN_OR_RETURN(const DownloadSummary fetched, DownloadArtifacts(connection, job.job_id(), out, /*replace=*/false));
    report["destination"] = out;
    report["download"] = {{"files", fetched.files},
                          {"bytes_fetched", fetched.bytes_fetched},
                          {"bytes_resumed", fetched.bytes_resumed},
                          {"files_present", fetched.files_present}};
  }
  if (flags.Bool("json")) {
    std::cout << report.dump() << "\n";
  } else {
    PrintConversionSummary(report);
    if (!download) std::printf("artifacts stay on the server: transmla jobs download %s --out DIR\n", job.job_id().c_str());
  }
  return absl::OkStatus();
}

}  // namespace transmla::cli
