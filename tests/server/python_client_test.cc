// Interop: a Python client (Debian's python3-grpcio, stubs from the system protoc) submits, watches
// and downloads from the C++ server.
#include "nlohmann/json.hpp"
#include "tests/server/server_fixture.h"
#include "tests/testing/run_command.h"

namespace transmla::testing {
namespace {

TEST_F(ConversionServerTest, PythonClientSubmitsWatchesAndDownloads) {
  if (std::string(TRANSMLA_PYTHON).empty() || std::string(TRANSMLA_GRPC_PYTHON_PLUGIN).empty()) {
    GTEST_SKIP() << "no /usr/bin/python3 or grpc_python_plugin at configure time";
  }
  StartServer(1, {"--auth-token", "py-token"});
  const CommandResult result =
      RunCommand({TRANSMLA_PYTHON, std::string(TRANSMLA_SOURCE_DIR) + "/tests/python/conversion_client.py", "--address",
                  server_->address(), "--proto-root", TRANSMLA_PROTO_ROOT, "--protoc", TRANSMLA_PROTOC, "--plugin",
                  TRANSMLA_GRPC_PYTHON_PLUGIN, "--token", "py-token"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json summary = nlohmann::json::parse(result.out);
  EXPECT_EQ(summary["mode"], "exact");
  EXPECT_GE(summary["events"].get<int>(), 1);
  EXPECT_TRUE(summary["files"].contains("config.json"));
}

}  // namespace
}  // namespace transmla::testing
