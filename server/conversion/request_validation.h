#ifndef TRANSMLA_SERVER_CONVERSION_REQUEST_VALIDATION_H_
#define TRANSMLA_SERVER_CONVERSION_REQUEST_VALIDATION_H_

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "core/convert/options.h"
#include "server/common/path_guard.h"
#include "transmla/v1/conversion_service.pb.h"

namespace transmla::server {

// A SubmitJobRequest turned into what the converter takes.
struct ConversionPlan {
  std::filesystem::path source;  // canonical, inside a model root
  convert::ConversionOptions options;
};

// Checks a client-chosen job id: 1 to 63 characters of [a-z0-9_-] starting with a letter or digit
// (safe as a folder name and in URLs). InvalidArgument naming `field`.
absl::Status ValidateJobId(const std::string& field, const std::string& job_id);

// Validates every field of `request` (job_id aside) and builds the plan. Errors name the field:
// InvalidArgument for malformed or out-of-range values (also those that only the source model's
// shape rules out, e.g. options.kv_lora_rank larger than its KV width), PermissionDenied /
// InvalidArgument / NotFound for paths as PathGuard documents, InvalidArgument for a source folder
// without a readable config.json, FailedPrecondition for options.calibration.device CUDA where this
// server has no GPU that runs the source.
absl::StatusOr<ConversionPlan> PlanConversion(const transmla::v1::SubmitJobRequest& request, const PathGuard& models);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_CONVERSION_REQUEST_VALIDATION_H_
