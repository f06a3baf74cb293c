#ifndef TRANSMLA_CLIENT_REMOTE_CONVERSION_CONNECTION_H_
#define TRANSMLA_CLIENT_REMOTE_CONVERSION_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/flags.h"
#include "client/remote/channel.h"
#include "transmla/v1/conversion_service.grpc.pb.h"

namespace transmla::cli {

using ConversionConnection = Connection<transmla::v1::ConversionService>;

// Streams WatchJob until the job is terminal: a progress bar on a terminal, the job's log lines on
// stderr when `show_logs`. Returns the job's final state.
absl::StatusOr<transmla::v1::Job> WatchUntilDone(ConversionConnection& connection, const std::string& job_id,
                                                 bool show_logs);

// OK for a SUCCEEDED job; otherwise the job's own error (FAILED with its code) or Cancelled.
absl::Status JobOutcome(const transmla::v1::Job& job);

// "queued", "running", ... as users type them (--state) and read them.
std::string JobStateName(transmla::v1::JobState state);

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_REMOTE_CONVERSION_CONNECTION_H_
