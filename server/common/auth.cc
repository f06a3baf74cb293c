#include "server/common/auth.h"

#include <string_view>

namespace transmla::server {
namespace {

constexpr std::string_view kBearerPrefix = "Bearer ";

// Compares in time independent of where the strings differ, so a caller cannot find a token
// byte by byte from response times.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

absl::Status BearerTokenAuth::CheckHeader(const std::string* authorization) const {
  if (tokens_.empty()) return absl::OkStatus();
  if (authorization == nullptr) {
    return absl::UnauthenticatedError("missing \"authorization: Bearer <token>\" metadata");
  }
  const std::string_view value(*authorization);
  if (value.substr(0, kBearerPrefix.size()) != kBearerPrefix) {
    return absl::UnauthenticatedError("authorization metadata is not of the form \"Bearer <token>\"");
  }
  const std::string_view token = value.substr(kBearerPrefix.size());
  bool match = false;
  for (const std::string& t : tokens_) match |= ConstantTimeEquals(token, t);
  if (!match) return absl::UnauthenticatedError("invalid bearer token");
  return absl::OkStatus();
}

absl::Status BearerTokenAuth::Check(const grpc::ServerContext& context) const {
  if (tokens_.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return CheckHeader(nullptr);
  const std::string value(it->second.data(), it->second.size());
  return CheckHeader(&value);
}

}  // namespace transmla::server
