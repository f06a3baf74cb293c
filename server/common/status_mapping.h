#ifndef TRANSMLA_SERVER_COMMON_STATUS_MAPPING_H_
#define TRANSMLA_SERVER_COMMON_STATUS_MAPPING_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace transmla::server {

// The one place where absl::Status becomes grpc::Status. The codes share their numbering
// (both are google.rpc.Code), so the code is carried over unchanged and the message kept whole.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse, for code that calls other gRPC services or reads statuses back in tests.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_COMMON_STATUS_MAPPING_H_
