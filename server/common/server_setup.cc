#include "server/common/server_setup.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "fmt/format.h"
#include "grpcpp/security/server_credentials.h"
#include "server/common/logging.h"

namespace transmla::server {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(fmt::format("{}: cannot read {}", flag, path));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int stop_pipe[2] = {-1, -1};

void NoteStopSignal(int signal_number) {
  const char byte = static_cast<char>(signal_number);
  const int saved = errno;
  (void)!::write(stop_pipe[1], &byte, 1);
  errno = saved;
}

}  // namespace

void InstallStopSignalHandlers() {
  if (::pipe(stop_pipe) != 0) return;
  struct sigaction action {};
  action.sa_handler = NoteStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

int WaitForStopSignal() {
  char byte = 0;
  while (::read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  return byte;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerFlags& flags) {
  if (flags.tls_cert.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  absl::StatusOr<std::string> cert = ReadPem(flags.tls_cert, "--tls-cert");
  absl::StatusOr<std::string> key = ReadPem(flags.tls_key, "--tls-key");
  if (!cert.ok()) return cert.status();
  if (!key.ok()) return key.status();
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!flags.tls_client_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(flags.tls_client_ca, "--tls-client-ca");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

void WriteReadyFile(const std::string& path, int port, int metrics_port) {
  if (path.empty()) return;
  const std::string temp = path + ".tmp";
  std::ofstream(temp) << fmt::format("{{\"port\": {}, \"metrics_port\": {}, \"pid\": {}}}\n", port, metrics_port,
                                     ::getpid());
  std::rename(temp.c_str(), path.c_str());
}

std::string RandomHex(int chars) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  while (static_cast<int>(out.size()) < chars) out += fmt::format("{:016x}", rng());
  return out.substr(0, chars);
}

std::string BeginCall(grpc::ServerContext* context) {
  const auto& metadata = context->client_metadata();
  std::string id;
  if (auto it = metadata.find("x-request-id"); it != metadata.end() && it->second.size() <= 128) {
    id.assign(it->second.data(), it->second.size());
  } else {
    id = RandomHex(16);
  }
  context->AddInitialMetadata("x-request-id", id);
  return id;
}

ServiceStart StartService(int argc, char** argv, ServiceKind kind, const std::string& usage) {
  InstallStopSignalHandlers();
  const std::vector<std::string> args(argv, argv + argc);
  const std::string program = std::filesystem::path(args.empty() ? "transmla-server" : args[0]).filename();
  if (args.size() == 2 && (args[1] == "--help" || args[1] == "-h")) {
    std::printf("usage: %s %s\n%s", program.c_str(), usage.c_str(), ServerFlagsUsage(kind).c_str());
    return {std::nullopt, 0};
  }
  absl::StatusOr<ServerFlags> flags =
      ParseServerFlags(args, [](const char* name) { return static_cast<const char*>(std::getenv(name)); }, kind);
  if (!flags.ok()) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), std::string(flags.status().message()).c_str());
    return {std::nullopt, 2};
  }
  ConfigureLogging(flags->log_level, flags->log_format);
  return {*std::move(flags), 0};
}

std::string TransportName(const ServerFlags& flags) {
  if (flags.tls_cert.empty()) return "plaintext";
  return flags.tls_client_ca.empty() ? "TLS" : "mTLS";
}

}  // namespace transmla::server
