// End-to-end tests of the `transmla` binary on the bundled model.
#include <fstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/run_command.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

using ::transmla::testing::BundledModelDir;
using ::transmla::testing::BundledTextFile;
using ::transmla::testing::CliBinary;
using ::transmla::testing::CommandResult;
using ::transmla::testing::MakeTempDir;
using ::transmla::testing::RunCommand;

CommandResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), CliBinary().string());
  return RunCommand(args);
}

nlohmann::json Json(const CommandResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(CliTest, GreedyGenerateFromBosTellsTheLilyStory) {
  const nlohmann::json out =
      Json(Cli({"generate", "--model", BundledModelDir(), "--prompt", "", "--max-tokens", "256", "--json"}));
  EXPECT_EQ(out["token_ids"].size(), 256u);
  EXPECT_EQ(out["text"].get<std::string>().rfind("Once upon a time, there was a little girl named Lily", 0), 0u)
      << out["text"];
  EXPECT_EQ(out["finish_reason"], "length");
}

TEST(CliTest, PerplexityJsonOverBundledText) {
  const nlohmann::json out = Json(Cli({"perplexity", "--model", BundledModelDir(), "--text", BundledTextFile(),
                                       "--limit", "20", "--json"}));
  EXPECT_GT(out["tokens"].get<int64_t>(), 1000);
  EXPECT_GT(out["ppl"].get<double>(), 1.0);
  EXPECT_LT(out["ppl"].get<double>(), 10.0);
  EXPECT_EQ(out["sequences"], 20);
}

TEST(CliTest, TokenizeMatchesHuggingFaceIds) {
  const nlohmann::json out =
      Json(Cli({"tokenize", "--model", BundledModelDir(), "--text", "Hello world", "--no-bos", "--json"}));
  EXPECT_EQ(out["ids"], nlohmann::json({346, 306, 414, 263, 304, 341}));
  const nlohmann::json with_bos = Json(Cli({"tokenize", "--model", BundledModelDir() / "tokenizer.json", "--text",
                                            "Hello world", "--json"}));
  EXPECT_EQ(with_bos["ids"][0], 1);
}

TEST(CliTest, ConvertWritesModelReportAndSummary) {
  const std::filesystem::path out = MakeTempDir("cli_convert") / "mla";
  const CommandResult r = Cli({"convert", "--model", BundledModelDir(), "--out", out, "--calibration",
                               BundledTextFile(), "--calibration-samples", "32", "--calibration-length", "128",
                               "--eval-text", BundledTextFile(), "--eval-skip", "200", "--eval-limit", "20"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("KV cache bytes/token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("perplexity (held-out)"), std::string::npos) << r.out;
  std::ifstream report_file(out / "conversion_report.json");
  const nlohmann::json report = nlohmann::json::parse(report_file);
  EXPECT_LT(report["kv_bytes_per_token"]["after"].get<int64_t>(), report["kv_bytes_per_token"]["before"].get<int64_t>());
  EXPECT_LT(report["evaluation"]["converted_ppl"].get<double>(), 20.0);
  EXPECT_FALSE(report["calibration"]["device"].get<std::string>().empty());
  // The converted folder runs through the same CLI.
  const nlohmann::json gen = Json(Cli({"generate", "--model", out, "--prompt", "Once upon a time", "--max-tokens", "8", "--json"}));
  EXPECT_EQ(gen["token_ids"].size(), 8u);
  // Refuses to overwrite without --force, with a one-line error.
  const CommandResult again = Cli({"convert", "--model", BundledModelDir(), "--out", out, "--mode", "exact"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
}

TEST(CliTest, DataFreeConversionWarnsAndLogsProgressToAPipe) {
  const std::filesystem::path out = MakeTempDir("cli_datafree") / "mla";
  const CommandResult r = Cli({"convert", "--model", BundledModelDir(), "--out", out, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("data-free"), std::string::npos) << r.err;
  // stderr is a pipe here: plain lines (first layer, then the end), no terminal redraws.
  EXPECT_NE(r.err.find("convert: 1/5 20%"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("convert: 5/5 100%"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["calibration"]["mode"], "data-free");
  // The summary repeats the report's warnings after the progress lines, where a reader looks.
  const CommandResult summary = Cli({"convert", "--model", BundledModelDir(), "--out", out, "--force"});
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_NE(summary.out.find("warning: no calibration text"), std::string::npos) << summary.out;
}

TEST(CliTest, ErrorsAreOneLineWithUsageExitCodes) {
  const CommandResult missing = Cli({"generate", "--prompt", "hi"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("missing --model"), std::string::npos) << missing.err;
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1);

  const CommandResult unknown = Cli({"generate", "--modle", "x"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown flag --modle"), std::string::npos);

  const CommandResult nowhere = Cli({"generate", "--model", "/nonexistent/model", "--prompt", "hi"});
  EXPECT_EQ(nowhere.exit_code, 1);
  EXPECT_NE(nowhere.err.find("/nonexistent/model"), std::string::npos) << nowhere.err;

  const CommandResult top_p = Cli({"generate", "--model", BundledModelDir(), "--top-p", "1.5"});
  EXPECT_EQ(top_p.exit_code, 1);
  EXPECT_NE(top_p.err.find("top_p"), std::string::npos) << top_p.err;

  const CommandResult rank = Cli({"convert", "--model", BundledModelDir(), "--out", MakeTempDir("rank") / "x",
                                  "--kv-lora-rank", "1000"});
  EXPECT_EQ(rank.exit_code, 1);
  EXPECT_NE(rank.err.find("kv_lora_rank"), std::string::npos) << rank.err;

  const CommandResult device = Cli({"convert", "--model", BundledModelDir(), "--out", MakeTempDir("device") / "x",
                                    "--calibration-device", "tpu"});
  EXPECT_EQ(device.exit_code, 1);
  EXPECT_NE(device.err.find("auto, cpu or cuda"), std::string::npos) << device.err;

  EXPECT_EQ(Cli({"frobnicate"}).exit_code, 2);
}

}  // namespace
}  // namespace transmla

namespace transmla {
namespace {

TEST(CliBenchTest, SideBySideTableJsonAndChart) {
  const std::filesystem::path dir = transmla::testing::MakeTempDir("cli_bench");
  const std::string json = (dir / "bench.json").string(), png = (dir / "bench.png").string();
  const transmla::testing::CommandResult r = transmla::testing::RunCommand(
      {transmla::testing::CliBinary().string(), "bench", "--model-a", transmla::testing::BundledModelDir().string(),
       "--model-b", transmla::testing::BundledModelDir().string(), "--batch", "2", "--prompt-len", "8", "--output-len",
       "4", "--context-lengths", "16,32", "--out-json", json, "--out-png", png});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("decode tokens/s @ 32"), std::string::npos) << r.out;
  std::ifstream in(json);
  const nlohmann::json report = nlohmann::json::parse(in);
  EXPECT_EQ(report["a"]["contexts"].size(), 2u);
  EXPECT_EQ(report["b"]["kv_bytes_per_token"], report["a"]["kv_bytes_per_token"]);
  std::ifstream image(png, std::ios::binary);
  std::string signature(8, '\0');
  image.read(signature.data(), 8);
  EXPECT_EQ(signature, "\x89PNG\r\n\x1a\n");
  EXPECT_GT(std::filesystem::file_size(png), 10000u);
  const transmla::testing::CommandResult bad = transmla::testing::RunCommand(
      {transmla::testing::CliBinary().string(), "bench", "--model-a", transmla::testing::BundledModelDir().string(),
       "--model-b", transmla::testing::BundledModelDir().string(), "--context-lengths", "16,x"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--context-lengths"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace transmla
