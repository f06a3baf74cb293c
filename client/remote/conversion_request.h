#ifndef TRANSMLA_CLIENT_REMOTE_CONVERSION_REQUEST_H_
#define TRANSMLA_CLIENT_REMOTE_CONVERSION_REQUEST_H_

#include "absl/status/statusor.h"
#include "client/flags.h"
#include "transmla/v1/conversion_service.pb.h"

namespace transmla::cli {

// The SubmitJob request for `transmla convert --server`: the same conversion flags as in-process,
// with --model and --calibration as paths on the server (inside its model roots), plus --job-id and
// --label KEY=VALUE. Unset flags stay unset so the server applies the converter's defaults.
absl::StatusOr<transmla::v1::SubmitJobRequest> SubmitRequestFromFlags(const Flags& flags);

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_REMOTE_CONVERSION_REQUEST_H_
