#ifndef TRANSMLA_SERVER_CONVERSION_CONVERTER_RUNNER_H_
#define TRANSMLA_SERVER_CONVERSION_CONVERTER_RUNNER_H_

#include "server/common/path_guard.h"
#include "server/conversion/job_queue.h"

namespace transmla::server {

// The JobRunner that does real conversions: re-validates the stored request against today's
// model roots (they may have changed since the job was queued; a request that no longer passes
// fails the job with the validation error) and calls convert::ConvertModel. `models` must
// outlive the runner.
JobRunner MakeConverterRunner(const PathGuard* models);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_CONVERSION_CONVERTER_RUNNER_H_
