#include "client/remote/channel.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/util/status_macros.h"

namespace transmla::cli {
namespace {

absl::StatusOr<std::string> ReadPem(const Flags& flags, const std::string& name) {
  const std::optional<std::string> path = flags.Get(name);
  if (!path) return std::string();
  std::ifstream in(*path, std::ios::binary);
  if (!in) return absl::NotFoundError("--" + name + ": cannot read " + *path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

const std::set<std::string>& RemoteValueFlags() {
  static const std::set<std::string> flags = {"server", "token", "tls-ca", "tls-cert", "tls-key", "timeout-seconds"};
  return flags;
}

std::string RemoteUsage() {
  return "--server HOST:PORT [--token T | $TRANSMLA_TOKEN] [--tls-ca PEM [--tls-cert PEM --tls-key PEM]] "
         "[--timeout-seconds S]";
}

absl::StatusOr<RemoteOptions> ReadRemoteOptions(const Flags& flags) {
  RemoteOptions options;
  ASSIGN_OR_RETURN(options.server, flags.Required("server"));
  if (options.server.find(':') == std::string::npos) {
    return absl::InvalidArgumentError("--server must be HOST:PORT, got \"" + options.server + "\"");
  }
  if (const std::optional<std::string> token = flags.Get("token")) {
    options.token = *token;
  } else if (const char* env = std::getenv("TRANSMLA_TOKEN")) {
    options.token = env;
  }
  ASSIGN_OR_RETURN(options.tls_ca_pem, ReadPem(flags, "tls-ca"));
  ASSIGN_OR_RETURN(options.tls_cert_pem, ReadPem(flags, "tls-cert"));
  ASSIGN_OR_RETURN(options.tls_key_pem, ReadPem(flags, "tls-key"));
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!options.tls_cert_pem.empty() && options.tls_ca_pem.empty()) {
    return absl::InvalidArgumentError("--tls-cert needs --tls-ca (a client certificate only makes sense over TLS)");
  }
  ASSIGN_OR_RETURN(options.timeout_seconds, flags.Double("timeout-seconds", 0));
  if (options.timeout_seconds < 0) return absl::InvalidArgumentError("--timeout-seconds must be >= 0");
  return options;
}

std::shared_ptr<grpc::Channel> MakeChannel(const RemoteOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_ca_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_ca_pem;
    ssl.pem_cert_chain = options.tls_cert_pem;
    ssl.pem_private_key = options.tls_key_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(options.server, credentials, arguments);
}

std::unique_ptr<grpc::ClientContext> NewCallContext(const RemoteOptions& options, bool with_deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!options.token.empty()) context->AddMetadata("authorization", "Bearer " + options.token);
  if (with_deadline && options.timeout_seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::microseconds(static_cast<int64_t>(options.timeout_seconds * 1e6)));
  }
  return context;
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& method) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), method + ": " + status.error_message());
}

}  // namespace transmla::cli
