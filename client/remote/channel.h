#ifndef TRANSMLA_CLIENT_REMOTE_CHANNEL_H_
#define TRANSMLA_CLIENT_REMOTE_CHANNEL_H_

#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/flags.h"
#include "grpcpp/grpcpp.h"

namespace transmla::cli {

// How a remote command reaches a service: --server HOST:PORT, --token T (or $TRANSMLA_TOKEN),
// --tls-ca PEM (TLS on; the server's certificate is verified against it), --tls-cert/--tls-key
// (a client certificate, for mTLS) and --timeout-seconds S (a deadline on every call; 0: none).
struct RemoteOptions {
  std::string server;
  std::string token;
  std::string tls_ca_pem;
  std::string tls_cert_pem;
  std::string tls_key_pem;
  double timeout_seconds = 0;
};

// The value flags every remote command accepts (add them to a Command's value_flags).
const std::set<std::string>& RemoteValueFlags();
// The usage text of those flags.
std::string RemoteUsage();

// Reads the connection flags; InvalidArgument naming the flag for a bad value, NotFound for
// unreadable PEM files.
absl::StatusOr<RemoteOptions> ReadRemoteOptions(const Flags& flags);

// One channel per command run; calls on it share TLS and the connection.
std::shared_ptr<grpc::Channel> MakeChannel(const RemoteOptions& options);

// A service's stub with the connection options its calls need, made from the command's flags.
template <typename Service>
struct Connection {
  RemoteOptions options;
  std::unique_ptr<typename Service::Stub> stub;
};
template <typename Service>
absl::StatusOr<Connection<Service>> Connect(const Flags& flags) {
  absl::StatusOr<RemoteOptions> options = ReadRemoteOptions(flags);
  if (!options.ok()) return options.status();
  Connection<Service> connection{*std::move(options), nullptr};
  connection.stub = Service::NewStub(MakeChannel(connection.options));
  return connection;
}

// A context for one call: the bearer token and the deadline (streams get none unless asked).
std::unique_ptr<grpc::ClientContext> NewCallContext(const RemoteOptions& options, bool with_deadline = true);

// The client edge's one translation: a gRPC status becomes an absl::Status with the same code,
// prefixed with the method so the one-line CLI error says which call failed.
absl::Status FromGrpc(const grpc::Status& status, const std::string& method);

}  // namespace transmla::cli

#endif  // TRANSMLA_CLIENT_REMOTE_CHANNEL_H_
