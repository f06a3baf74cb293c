#include "server/common/server_flags.h"

#include <fstream>
#include <map>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::server {
namespace {

GetEnv FakeEnv(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

const std::vector<std::string> kRequired = {"server", "--model-root", "/m", "--artifact-root", "/a", "--state-dir", "/s"};

TEST(ServerFlagsTest, ParsesTheContractSpellings) {
  auto flags = ParseServerFlags({"server", "--listen", "127.0.0.1:0", "--model-root", "/m1", "--model-root=/m2",
                                 "--artifact-root", "/a", "--state-dir", "/s", "--concurrency", "2"},
                                FakeEnv({}));
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->listen, "127.0.0.1:0");
  EXPECT_EQ(flags->model_roots, (std::vector<std::string>{"/m1", "/m2"}));
  EXPECT_EQ(flags->artifact_root, "/a");
  EXPECT_EQ(flags->state_dir, "/s");
  EXPECT_EQ(flags->concurrency, 2);
}

TEST(ServerFlagsTest, CommandLineBeatsEnvironmentBeatsConfigFile) {
  const auto dir = transmla::testing::MakeTempDir("server_flags");
  std::ofstream(dir / "server.conf") << "# comment\nqueue-limit = 7\nconcurrency = 3\nlog-level = debug\n"
                                     << "model-root = /c1\nmodel-root = /c2\nartifact-root=/a\nstate-dir=/s\n";
  auto flags = ParseServerFlags({"server", "--config", (dir / "server.conf").string(), "--concurrency", "4"},
                                FakeEnv({{"TRANSMLA_QUEUE_LIMIT", "9"}, {"TRANSMLA_AUTH_TOKEN", "x, y"}}));
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->concurrency, 4);
  EXPECT_EQ(flags->queue_limit, 9);
  EXPECT_EQ(flags->log_level, "debug");
  EXPECT_EQ(flags->model_roots, (std::vector<std::string>{"/c1", "/c2"}));
  EXPECT_EQ(flags->auth_tokens, (std::vector<std::string>{"x", "y"}));
  std::filesystem::remove_all(dir);
}

TEST(ServerFlagsTest, ErrorsNameTheFlag) {
  struct Case {
    std::vector<std::string> extra;
    std::string flag;
  };
  const Case cases[] = {{{"--concurrency", "0"}, "--concurrency"},  {{"--concurrency", "two"}, "--concurrency"},
                        {{"--listen", "nohostport"}, "--listen"},    {{"--bogus", "1"}, "--bogus"},
                        {{"--tls-cert", "c.pem"}, "--tls-cert"},     {{"--log-format", "xml"}, "--log-format"},
                        {{"--metrics-port", "70000"}, "--metrics-port"}, {{"--queue-limit"}, "--queue-limit"}};
  for (const Case& c : cases) {
    std::vector<std::string> args = kRequired;
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    auto flags = ParseServerFlags(args, FakeEnv({}));
    ASSERT_FALSE(flags.ok()) << c.flag;
    EXPECT_EQ(flags.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(flags.status().message().find(c.flag), std::string_view::npos) << flags.status();
  }
}

TEST(ServerFlagsTest, RequiresRootsAndStateDir) {
  auto flags = ParseServerFlags({"server", "--artifact-root", "/a", "--state-dir", "/s"}, FakeEnv({}));
  EXPECT_NE(flags.status().message().find("--model-root"), std::string_view::npos);
}

}  // namespace
}  // namespace transmla::server
