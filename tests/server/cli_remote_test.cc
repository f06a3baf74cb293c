// End-to-end: the `transmla` CLI's remote commands against a real transmla-convert-server.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/server_fixture.h"
#include "tests/testing/run_command.h"
#include "tests/testing/test_paths.h"

namespace transmla::testing {
namespace {

namespace v1 = transmla::v1;

namespace fs = std::filesystem;

CommandResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), CliBinary().string());
  return RunCommand(args);
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every model file of `expected` (the report aside: it names its own destination and timing) has
// the same bytes in `actual`, and `actual` holds nothing else but the report.
void ExpectSameModel(const fs::path& expected, const fs::path& actual) {
  int files = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(expected)) {
    if (e.path().filename() == "conversion_report.json") continue;
    ++files;
    EXPECT_EQ(ReadAll(e.path()), ReadAll(actual / e.path().filename())) << e.path().filename();
  }
  int actual_files = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(actual)) {
    if (e.path().filename() != "conversion_report.json") ++actual_files;
  }
  EXPECT_GT(files, 2);
  EXPECT_EQ(files, actual_files);
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

TEST_F(ConversionServerTest, ConvertThroughTheServerDownloadsTheInProcessModelAndResumes) {
  StartServer();
  const fs::path local = dir_ / "local", remote = dir_ / "remote", resumed = dir_ / "resumed";
  CommandResult in_process =
      Cli({"convert", "--model", BundledModelDir().string(), "--out", local.string(), "--mode", "exact", "--json"});
  ASSERT_EQ(in_process.exit_code, 0) << in_process.err;
  CommandResult converted = Cli({"convert", "--server", server_->address(), "--model", "stories260K", "--mode", "exact",
                                 "--job-id", "cli-exact", "--out", remote.string(), "--json"});
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  const nlohmann::json report = nlohmann::json::parse(converted.out);
  EXPECT_EQ(report["job_id"], "cli-exact");
  EXPECT_EQ(report["mode"], "exact");
  EXPECT_EQ(report["download"]["bytes_resumed"], 0);
  ExpectSameModel(local, remote);

  // An interrupted download: one file half there, one corrupted, the marker of this job.
  fs::create_directories(resumed);
  std::ofstream(resumed / ".transmla_download") << "cli-exact\n";
  const std::string weights = ReadAll(remote / "model-00001-of-00001.safetensors");
  std::ofstream(resumed / "model-00001-of-00001.safetensors.part", std::ios::binary) << weights.substr(0, weights.size() / 2);
  std::ofstream(resumed / "config.json.part", std::ios::binary) << "{not the server's bytes";
  CommandResult download = Cli({"jobs", "download", "cli-exact", "--server", server_->address(), "--out", resumed.string()});
  ASSERT_EQ(download.exit_code, 0) << download.err;
  EXPECT_NE(download.out.find("MiB resumed"), std::string::npos) << download.out;
  EXPECT_EQ(download.out.find(" 0.0 MiB resumed"), std::string::npos) << download.out;
  ExpectSameModel(local, resumed);
  EXPECT_FALSE(fs::exists(resumed / ".transmla_download"));
  EXPECT_FALSE(fs::exists(resumed / "model-00001-of-00001.safetensors.part"));

  // A folder that is not this job's download is left alone.
  CommandResult refused = Cli({"jobs", "download", "cli-exact", "--server", server_->address(), "--out", local.string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
}

TEST_F(ConversionServerTest, JobsCommandsListGetCancelAndDelete) {
  StartServer();
  v1::Job job;
  ASSERT_TRUE(Client().Submit(SlowRequest("cli-slow"), &job).ok());
  WaitForLayer("cli-slow", 1);
  CommandResult cancel = Cli({"jobs", "cancel", "cli-slow", "--server", server_->address()});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  CommandResult watch = Cli({"jobs", "watch", "cli-slow", "--server", server_->address()});
  EXPECT_EQ(watch.exit_code, 1);
  EXPECT_NE(watch.err.find("cancelled"), std::string::npos) << watch.err;

  CommandResult list = Cli({"jobs", "list", "--server", server_->address(), "--state", "cancelled", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const nlohmann::json listed = nlohmann::json::parse(list.out);
  ASSERT_EQ(listed["jobs"].size(), 1u) << list.out;
  EXPECT_EQ(listed["jobs"][0]["job_id"], "cli-slow");
  CommandResult bad_state = Cli({"jobs", "list", "--server", server_->address(), "--state", "sleeping"});
  EXPECT_EQ(bad_state.exit_code, 1);
  EXPECT_NE(bad_state.err.find("--state"), std::string::npos) << bad_state.err;

  CommandResult get = Cli({"jobs", "get", "cli-slow", "--server", server_->address(), "--json"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(nlohmann::json::parse(get.out)["state"], "JOB_STATE_CANCELLED");
  CommandResult removed = Cli({"jobs", "delete", "cli-slow", "--server", server_->address()});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  CommandResult gone = Cli({"jobs", "get", "cli-slow", "--server", server_->address()});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("GetJob"), std::string::npos) << gone.err;
}

TEST_F(ConversionServerTest, ConvertThroughTheServerNeedsTheTokenAndNamesBadOptions) {
  StartServer(1, {"--auth-token", "secret"});
  CommandResult anonymous = Cli({"jobs", "list", "--server", server_->address()});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_NE(anonymous.err.find("ListJobs"), std::string::npos) << anonymous.err;
  CommandResult bad_rank = Cli({"convert", "--server", server_->address(), "--token", "secret", "--model",
                                "stories260K", "--kv-lora-rank", "0", "--no-download"});
  EXPECT_EQ(bad_rank.exit_code, 1);
  EXPECT_NE(bad_rank.err.find("kv_lora_rank"), std::string::npos) << bad_rank.err;
  CommandResult listed = Cli({"jobs", "list", "--server", server_->address(), "--token", "secret"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
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
