// End-to-end: the `transmla` CLI's remote commands against a real transmla-convert-server.
#include "gtest/gtest.h"
#include "tests/server/server_fixture.h"
#include "tests/testing/run_command.h"
#include "tests/testing/test_paths.h"

namespace transmla::testing {
namespace {

CommandResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), CliBinary().string());
  return RunCommand(args);
}

TEST_F(ConversionServerTest, HealthCommandReportsServingForServerAndService) {
  StartServer();
  CommandResult server = Cli({"health", "--server", server_->address()});
  EXPECT_EQ(server.exit_code, 0) << server.err;
  EXPECT_EQ(server.out, "server: SERVING\n");
  CommandResult service =
      Cli({"health", "--server", server_->address(), "--service", "transmla.v1.ConversionService", "--json"});
  EXPECT_EQ(service.exit_code, 0) << service.err;
  EXPECT_EQ(service.out, "{\"service\":\"transmla.v1.ConversionService\",\"status\":\"SERVING\"}\n");
}

TEST_F(ConversionServerTest, HealthCommandFailsForUnknownServiceAndDeadServer) {
  StartServer();
  CommandResult unknown = Cli({"health", "--server", server_->address(), "--service", "no.such.Service"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("Health/Check"), std::string::npos) << unknown.err;
  const std::string address = server_->address();
  server_.reset();  // stopped: nothing listens on the port any more
  CommandResult dead = Cli({"health", "--server", address, "--timeout-seconds", "2"});
  EXPECT_EQ(dead.exit_code, 1);
  EXPECT_NE(dead.err.find("Health/Check"), std::string::npos) << dead.err;
}

TEST(CliRemoteFlagsTest, BadConnectionFlagsAreNamed) {
  CommandResult no_port = Cli({"health", "--server", "localhost"});
  EXPECT_EQ(no_port.exit_code, 1);
  EXPECT_NE(no_port.err.find("HOST:PORT"), std::string::npos) << no_port.err;
  CommandResult missing_ca = Cli({"health", "--server", "localhost:1", "--tls-ca", "/nonexistent/ca.pem"});
  EXPECT_EQ(missing_ca.exit_code, 1);
  EXPECT_NE(missing_ca.err.find("--tls-ca"), std::string::npos) << missing_ca.err;
}

}  // namespace
}  // namespace transmla::testing
