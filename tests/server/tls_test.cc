// TLS and mTLS on the real server, with a throwaway CA made by the openssl CLI.
#include <fstream>
#include <sstream>

#include "tests/server/server_fixture.h"
#include "tests/testing/run_command.h"

namespace transmla::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// CA, a server certificate for localhost / 127.0.0.1 and a client certificate, all signed by the CA.
bool MakeCertificates(const fs::path& dir) {
  const std::string d = dir.string() + "/";
  std::ofstream(d + "san.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  const std::vector<std::vector<std::string>> steps = {
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", d + "ca.key", "-out", d + "ca.pem", "-days", "1", "-subj", "/CN=transmla-test-ca"},
      {"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       d + "server.key", "-out", d + "server.csr", "-subj", "/CN=localhost"},
      {"/usr/bin/openssl", "x509", "-req", "-in", d + "server.csr", "-CA", d + "ca.pem", "-CAkey", d + "ca.key",
       "-CAcreateserial", "-out", d + "server.pem", "-days", "1", "-extfile", d + "san.cnf"},
      {"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       d + "client.key", "-out", d + "client.csr", "-subj", "/CN=pipeline"},
      {"/usr/bin/openssl", "x509", "-req", "-in", d + "client.csr", "-CA", d + "ca.pem", "-CAkey", d + "ca.key",
       "-CAcreateserial", "-out", d + "client.pem", "-days", "1"},
  };
  for (const auto& step : steps) {
    const CommandResult r = RunCommand(step);
    if (r.exit_code != 0) {
      ADD_FAILURE() << step[1] << ": " << r.err;
      return false;
    }
  }
  return true;
}

grpc::StatusCode GetUnknownJob(const std::string& address, const grpc::SslCredentialsOptions& tls) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto channel = grpc::CreateCustomChannel(address, grpc::SslCredentials(tls), args);
  auto stub = transmla::v1::ConversionService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  transmla::v1::GetJobRequest request;
  request.set_job_id("unknown");
  transmla::v1::Job job;
  return stub->GetJob(&context, request, &job).error_code();
}

TEST_F(ConversionServerTest, MutualTlsAdmitsOnlyClientsWithACertificateFromTheCa) {
  const fs::path certs = dir_ / "certs";
  fs::create_directories(certs);
  ASSERT_TRUE(MakeCertificates(certs));
  StartServer(1, {"--tls-cert", (certs / "server.pem").string(), "--tls-key", (certs / "server.key").string(),
                  "--tls-client-ca", (certs / "ca.pem").string()});
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = ReadAll(certs / "ca.pem");
  with_cert.pem_private_key = ReadAll(certs / "client.key");
  with_cert.pem_cert_chain = ReadAll(certs / "client.pem");
  EXPECT_EQ(GetUnknownJob(server_->address(), with_cert), grpc::StatusCode::NOT_FOUND) << "the call got through";
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = with_cert.pem_root_certs;
  EXPECT_EQ(GetUnknownJob(server_->address(), without_cert), grpc::StatusCode::UNAVAILABLE);
  transmla::v1::Job job;
  EXPECT_EQ(Client().Get("unknown", &job).error_code(), grpc::StatusCode::UNAVAILABLE) << "plaintext is refused";
}

}  // namespace
}  // namespace transmla::testing
