#ifndef TRANSMLA_SERVER_COMMON_SERVER_SETUP_H_
#define TRANSMLA_SERVER_COMMON_SERVER_SETUP_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"
#include "server/common/server_flags.h"

namespace transmla::server {

// Plaintext, TLS (--tls-cert/--tls-key) or mTLS (--tls-client-ca) from the flags.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerFlags& flags);

// {"port": .., "metrics_port": .., "pid": ..} written atomically (temp + rename) so a watcher never
// reads half of it. Nothing when `path` is empty.
void WriteReadyFile(const std::string& path, int port, int metrics_port);

// The caller's "x-request-id" (kept when short enough to log), or a new one; echoed back in the
// initial metadata so a client can quote it when reporting a problem.
std::string BeginCall(grpc::ServerContext* context);

// `chars` random lowercase hex digits.
std::string RandomHex(int chars);

// SIGTERM and SIGINT handlers that only note the signal: whichever thread the kernel delivers it to
// (libraries such as OpenBLAS start threads before main, with the default mask), the process is
// never killed by it, and WaitForStopSignal() returns its number. Call first thing in main.
void InstallStopSignalHandlers();
int WaitForStopSignal();

// The start shared by the service binaries' main(): stop-signal handlers, --help (printing
// `usage` and the flag list), flags from file/environment/command line, and logging. `flags` is
// set when the service should run; otherwise main returns `exit_code` (0 after --help, 2 for bad
// flags, with the message on stderr).
struct ServiceStart {
  std::optional<ServerFlags> flags;
  int exit_code = 0;
};
ServiceStart StartService(int argc, char** argv, ServiceKind kind, const std::string& usage);

// "plaintext", "TLS" or "mTLS", for the start-up log line.
std::string TransportName(const ServerFlags& flags);

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_COMMON_SERVER_SETUP_H_
