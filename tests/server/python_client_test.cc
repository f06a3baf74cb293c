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

// The grpcurl examples of the README and docs/conversion_server.md, replayed as grpcurl runs them.
TEST_F(ConversionServerTest, GrpcurlExamplesWorkAsWritten) {
  if (std::string(TRANSMLA_PYTHON).empty()) GTEST_SKIP() << "no /usr/bin/python3 at configure time";
  StartServer();
  const std::string source = TRANSMLA_SOURCE_DIR;
  const CommandResult result = RunCommand(
      {TRANSMLA_PYTHON, source + "/tests/python/grpcurl_replay.py", "--address", server_->address(), "--markdown",
       source + "/README.md", "--markdown", source + "/docs/conversion_server.md", "--only", "ConversionService",
       "--reflection-proto-root", source + "/tests/python/proto", "--protoc", TRANSMLA_PROTOC});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json replay = nlohmann::json::parse(result.out);
  ASSERT_GE(replay["ran"].size(), 9u) << result.out;
  EXPECT_NE(replay["ran"][0]["output"].get<std::string>().find("transmla.v1.ConversionService"), std::string::npos);
  bool watched_to_success = false, listed_artifacts = false;
  for (const nlohmann::json& step : replay["ran"]) {
    const std::string output = step["output"];
    if (step["command"].get<std::string>().find("WatchJob") != std::string::npos) {
      watched_to_success |= output.find("JOB_STATE_SUCCEEDED") != std::string::npos;
    }
    listed_artifacts |= output.find("\"sha256\"") != std::string::npos;
  }
  EXPECT_TRUE(watched_to_success) << result.out;
  EXPECT_TRUE(listed_artifacts) << result.out;
}

}  // namespace
}  // namespace transmla::testing
