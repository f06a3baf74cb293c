#include "server/conversion/converter_runner.h"

#include "core/convert/converter.h"
#include "server/conversion/request_validation.h"

namespace transmla::server {

JobRunner MakeConverterRunner(const PathGuard* models) {
  return [models](const JobRecord& job, const std::filesystem::path& destination,
                  const convert::ProgressCallback& progress,
                  const convert::CancelCheck& cancelled) -> absl::StatusOr<std::string> {
    transmla::v1::SubmitJobRequest request;
    if (!request.ParseFromString(job.request)) return absl::DataLossError("stored request is unreadable");
    absl::StatusOr<ConversionPlan> plan = PlanConversion(request, *models);
    if (!plan.ok()) return plan.status();
    absl::StatusOr<nlohmann::json> report = convert::ConvertModel(plan->source, destination, plan->options, progress, cancelled);
    if (!report.ok()) return report.status();
    return report->dump();
  };
}

}  // namespace transmla::server
