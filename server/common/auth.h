#ifndef TRANSMLA_SERVER_COMMON_AUTH_H_
#define TRANSMLA_SERVER_COMMON_AUTH_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"

namespace transmla::server {

// Bearer-token check for service methods: "authorization: Bearer <token>" metadata against a set
// of configured tokens. With no tokens configured every call passes (auth off).
//
// Why a per-method check rather than grpc::AuthMetadataProcessor: the processor only runs on
// secure (TLS) server credentials, and tokens must also work on plaintext loopback listeners
// behind a mesh; and 1.51's server interceptors cannot fail a call before its handler runs.
// Health and reflection stay open so that probes and grpcurl discovery need no secret.
class BearerTokenAuth {
 public:
  explicit BearerTokenAuth(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

  // OK when auth is off or the call carries one of the tokens; Unauthenticated otherwise (the
  // message says whether the header was missing or the token wrong, never which tokens exist).
  absl::Status Check(const grpc::ServerContext& context) const;

  // The same check on a raw header value (tests, other transports).
  absl::Status CheckHeader(const std::string* authorization) const;

  bool enabled() const { return !tokens_.empty(); }

 private:
  std::vector<std::string> tokens_;
};

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_COMMON_AUTH_H_
