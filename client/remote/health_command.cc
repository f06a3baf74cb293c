#include <cstdio>

#include "client/command.h"
#include "client/remote/channel.h"
#include "core/util/status_macros.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace transmla::cli {
namespace {

absl::Status RunHealth(const Flags& flags) {
  ASSIGN_OR_RETURN(RemoteOptions options, ReadRemoteOptions(flags));
  if (!flags.Has("timeout-seconds")) options.timeout_seconds = 5;  // a probe must not hang
  const std::string service = flags.Get("service").value_or("");
  auto stub = grpc::health::v1::Health::NewStub(MakeChannel(options));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const std::unique_ptr<grpc::ClientContext> context = NewCallContext(options);
  RETURN_IF_ERROR(FromGrpc(stub->Check(context.get(), request, &response), "Health/Check"));
  const std::string state = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  const std::string shown = service.empty() ? "server" : service;
  if (flags.Bool("json")) {
    std::printf("{\"service\":\"%s\",\"status\":\"%s\"}\n", service.c_str(), state.c_str());
  } else {
    std::printf("%s: %s\n", shown.c_str(), state.c_str());
  }
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(shown + " is " + state);
  }
  return absl::OkStatus();
}

}  // namespace

Command HealthCommand() {
  std::set<std::string> value_flags = RemoteValueFlags();
  value_flags.insert("service");
  return {"health",
          "ask a server's gRPC health service (exit 0 when SERVING; for probes and HEALTHCHECK)",
          "transmla health " + RemoteUsage() + " [--service NAME] [--json]   (default timeout 5 s)",
          value_flags,
          {"json"},
          RunHealth};
}

}  // namespace transmla::cli
