#ifndef TRANSMLA_CLIENT_SAMPLING_FLAGS_H_
#define TRANSMLA_CLIENT_SAMPLING_FLAGS_H_

#include "absl/status/statusor.h"
#include "client/flags.h"
#include "core/engine/generate.h"

namespace transmla::cli {

// --max-tokens (64) --temperature (0) --top-k --top-p --seed --repetition-penalty --stop... --stop-id...,
// validated (InvalidArgument naming the field).
absl::StatusOr<SamplingParams> ReadSamplingFlags(const Flags& flags);

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_SAMPLING_FLAGS_H_
