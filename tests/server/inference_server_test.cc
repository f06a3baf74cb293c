// End-to-end: a real transmla-inference-server on a loopback port, real gRPC clients.
#include <signal.h>

#include <fstream>
#include <regex>
#include <thread>

#include "core/engine/generate.h"
#include "core/engine/model_loader.h"
#include "core/eval/perplexity.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/server/inference_fixture.h"
#include "tests/testing/run_command.h"
#include "tests/testing/test_paths.h"

namespace transmla::testing {
namespace {

namespace v1 = transmla::v1;

// In-process greedy generation with the same engine code the server runs.
GenerationResult InProcess(const std::string& prompt, int max_tokens) {
  absl::StatusOr<LoadedModel> model = LoadModel(BundledModelDir());
  EXPECT_TRUE(model.ok());
  SamplingParams params;
  params.max_tokens = max_tokens;
  absl::StatusOr<GenerationResult> result =
      Generate(*model->engine, *model->tokenizer, model->tokenizer->Encode(prompt, true), params);
  EXPECT_TRUE(result.ok());
  return *result;
}

// The value of a metric line `name{model="m"} value` in a scrape, or -1.
double MetricValue(const std::string& scrape, const std::string& name, const std::string& model) {
  const std::regex line(name + R"(\{model="?)" + model + R"("?\} ([0-9.e+-]+))");
  std::smatch match;
  if (!std::regex_search(scrape, match, line)) return -1;
  return std::stod(match[1]);
}

TEST_F(InferenceServerTest, GreedyGenerateAndStreamEqualInProcessGeneration) {
  StartServer({"stories=stories260K"});
  const GenerationResult expected = InProcess("Once upon a time", 64);
  grpc::ClientContext context;
  v1::GenerateResponse response;
  ASSERT_TRUE(stub_->Generate(&context, Request("stories", "Once upon a time", 64), &response).ok());
  EXPECT_EQ(std::vector<int32_t>(response.token_ids().begin(), response.token_ids().end()), expected.token_ids);
  EXPECT_EQ(response.text(), expected.text);
  EXPECT_EQ(response.finish_reason(), expected.finish_reason);
  EXPECT_EQ(response.usage().prompt_tokens(), static_cast<int>(expected.prompt_ids.size()));
  EXPECT_EQ(response.usage().completion_tokens(), static_cast<int>(expected.token_ids.size()));

  grpc::ClientContext stream_context;
  auto reader = stub_->GenerateStream(&stream_context, Request("stories", "Once upon a time", 64));
  v1::GenerateChunk chunk;
  std::string text;
  std::vector<int32_t> ids;
  int chunks = 0, finals = 0;
  v1::GenerateChunk last;
  while (reader->Read(&chunk)) {
    ++chunks;
    EXPECT_EQ(finals, 0) << "a chunk after the final one";
    text += chunk.text();
    ids.insert(ids.end(), chunk.token_ids().begin(), chunk.token_ids().end());
    if (!chunk.finish_reason().empty()) {
      ++finals;
      last = chunk;
    }
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GT(chunks, 10);
  EXPECT_EQ(finals, 1);
  EXPECT_EQ(text, expected.text);
  EXPECT_EQ(ids, expected.token_ids);
  EXPECT_EQ(last.finish_reason(), expected.finish_reason);
  EXPECT_EQ(last.usage().total_tokens(), static_cast<int>(expected.prompt_ids.size() + expected.token_ids.size()));
  EXPECT_GT(last.timing().time_to_first_token_seconds(), 0);
  EXPECT_GE(last.timing().total_seconds(), last.timing().time_to_first_token_seconds());
}

TEST_F(InferenceServerTest, SixteenConcurrentClientsGetTheirSequentialResults) {
  StartServer({"stories=stories260K"});
  const std::vector<std::string> starts = {"Once upon a time", "The cat", "Lily and Ben", "One day", "Tom was sad",
                                           "The sun", "A little bird", "Mom said", "The big dog", "Sam liked",
                                           "There was a tree", "The girl ran", "In the park", "The boy saw",
                                           "It was a cold day", "Max had a ball"};
  std::vector<GenerationResult> expected;
  for (const std::string& s : starts) expected.push_back(InProcess(s, 40));
  std::vector<v1::GenerateResponse> got(starts.size());
  std::vector<grpc::Status> statuses(starts.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < starts.size(); ++i) {
    clients.emplace_back([&, i] {
      grpc::ClientContext context;
      statuses[i] = stub_->Generate(&context, Request("stories", starts[i], 40), &got[i]);
    });
  }
  for (std::thread& t : clients) t.join();
  for (size_t i = 0; i < starts.size(); ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(std::vector<int32_t>(got[i].token_ids().begin(), got[i].token_ids().end()), expected[i].token_ids)
        << starts[i];
  }
  EXPECT_GT(MetricValue(Metrics(), "transmla_inference_generated_tokens_total", "stories"), 16 * 10);
}

TEST_F(InferenceServerTest, CancelAndDeadlineStopTheSequenceAndFreeItsCache) {
  StartServer({"slow=serving-test"});
  v1::GenerateRequest request = Request("slow", "Once", 1500);
  request.mutable_sampling()->set_ignore_eos(true);
  {
    grpc::ClientContext context;
    auto reader = stub_->GenerateStream(&context, request);
    v1::GenerateChunk chunk;
    ASSERT_TRUE(reader->Read(&chunk));
    double held = 0;  // the gauge is published after each step
    for (int i = 0; i < 100 && held <= 0; ++i) {
      held = MetricValue(Metrics(), "transmla_inference_kv_cache_bytes", "slow");
      if (held <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GT(held, 0);
    context.TryCancel();
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    v1::GenerateResponse response;
    EXPECT_EQ(stub_->Generate(&context, request, &response).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // The loop drops the sequences at its next step; the metrics follow within a moment.
  double kv = -1, running = -1;
  for (int i = 0; i < 100 && (kv != 0 || running != 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::string scrape = Metrics();
    kv = MetricValue(scrape, "transmla_inference_kv_cache_bytes", "slow");
    running = MetricValue(scrape, "transmla_inference_requests_running", "slow");
  }
  EXPECT_EQ(kv, 0);
  EXPECT_EQ(running, 0);
}

TEST_F(InferenceServerTest, UnloadWhileGeneratingAbortsThoseRequests) {
  StartServer({"slow=serving-test", "stories=stories260K"});
  v1::GenerateRequest request = Request("slow", "Once", 1500);
  request.mutable_sampling()->set_ignore_eos(true);
  grpc::ClientContext context;
  auto reader = stub_->GenerateStream(&context, request);
  v1::GenerateChunk chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  grpc::ClientContext unload_context;
  v1::UnloadModelRequest unload;
  unload.set_name("slow");
  v1::UnloadModelResponse unloaded;
  ASSERT_TRUE(stub_->UnloadModel(&unload_context, unload, &unloaded).ok());
  while (reader->Read(&chunk)) {
  }
  const grpc::Status ended = reader->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::ABORTED) << ended.error_message();
  EXPECT_NE(ended.error_message().find("unloaded"), std::string::npos) << ended.error_message();
  grpc::ClientContext list_context;
  v1::ListModelsResponse listed;
  ASSERT_TRUE(stub_->ListModels(&list_context, {}, &listed).ok());
  ASSERT_EQ(listed.models_size(), 1);
  EXPECT_EQ(listed.models(0).name(), "stories");
}

TEST_F(InferenceServerTest, BadRequestsGetTheirCodesAndNameTheField) {
  StartServer({"stories=stories260K"});
  struct Case {
    const char* what;
    std::function<void(v1::GenerateRequest*)> edit;
    grpc::StatusCode code;
    const char* mentions;
  };
  const std::vector<Case> cases = {
      {"unknown model", [](auto* r) { r->set_model("nope"); }, grpc::StatusCode::NOT_FOUND, "nope"},
      {"no model", [](auto* r) { r->clear_model(); }, grpc::StatusCode::INVALID_ARGUMENT, "model"},
      {"negative max_tokens", [](auto* r) { r->mutable_sampling()->set_max_tokens(-1); },
       grpc::StatusCode::INVALID_ARGUMENT, "sampling.max_tokens"},
      {"top_p > 1", [](auto* r) { r->mutable_sampling()->set_top_p(1.5f); }, grpc::StatusCode::INVALID_ARGUMENT,
       "sampling.top_p"},
      {"negative temperature", [](auto* r) { r->mutable_sampling()->set_temperature(-1); },
       grpc::StatusCode::INVALID_ARGUMENT, "sampling.temperature"},
      {"empty prompt", [](auto* r) { r->clear_prompt(); }, grpc::StatusCode::INVALID_ARGUMENT, "prompt"},
      {"token id out of range", [](auto* r) { r->clear_prompt(); r->add_prompt_token_ids(1); r->add_prompt_token_ids(99999); },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt_token_ids[1]"},
  };
  for (const Case& c : cases) {
    v1::GenerateRequest request = Request("stories", "Once", 8);
    c.edit(&request);
    grpc::ClientContext context;
    v1::GenerateResponse response;
    const grpc::Status status = stub_->Generate(&context, request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.mentions), std::string::npos) << c.what << ": " << status.error_message();
  }
  grpc::ClientContext load_context;
  v1::LoadModelRequest load;
  load.set_name("escape");
  load.set_path("/etc");
  v1::Model model;
  EXPECT_EQ(stub_->LoadModel(&load_context, load, &model).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(InferenceServerTest, ReadinessWaitsForPreloadedModelsAndAFailedLoadIsReported) {
  // A file that is not a model: the load fails in the background, the service never gets ready.
  std::filesystem::copy_file(BundledTextFile(), model_root_ / "not_a_model.txt",
                             std::filesystem::copy_options::overwrite_existing);
  server_ = ServerProcess::StartInference(model_root_, dir_, {"--load", "broken=not_a_model.txt"});
  ASSERT_NE(server_, nullptr);
  stub_ = v1::InferenceService::NewStub(server_->Channel());
  v1::Model model;
  for (int i = 0; i < 200 && model.state() != v1::MODEL_STATE_FAILED; ++i) {
    grpc::ClientContext context;
    v1::GetModelRequest request;
    request.set_name("broken");
    ASSERT_TRUE(stub_->GetModel(&context, request, &model).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(model.state(), v1::MODEL_STATE_FAILED);
  EXPECT_FALSE(model.failure_reason().empty());
  auto health = grpc::health::v1::Health::NewStub(server_->Channel());
  for (const auto& [service, serving] : std::vector<std::pair<std::string, bool>>{
           {"", true}, {"transmla.v1.InferenceService", false}}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status() == grpc::health::v1::HealthCheckResponse::SERVING, serving) << service;
  }
  grpc::ClientContext context;
  v1::GenerateResponse response;
  EXPECT_EQ(stub_->Generate(&context, Request("broken", "Once", 4), &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(InferenceServerTest, FullQueueAnswersResourceExhaustedAndSigtermDrains) {
  StartServer({"slow=serving-test"}, {"--max-batch", "1", "--queue-limit", "1"});
  v1::GenerateRequest request = Request("slow", "Once", 200);
  request.mutable_sampling()->set_ignore_eos(true);
  std::vector<grpc::Status> statuses(4);
  std::vector<std::thread> clients;
  auto client = [&](int i) {
    grpc::ClientContext context;
    v1::GenerateResponse response;
    statuses[i] = stub_->Generate(&context, request, &response);
  };
  clients.emplace_back(client, 0);
  for (int i = 0; i < 200 && MetricValue(Metrics(), "transmla_inference_requests_running", "slow") != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // One request runs (--max-batch 1): of three more, one waits (--queue-limit 1), two are refused.
  for (int i = 1; i < 4; ++i) clients.emplace_back(client, i);
  for (std::thread& t : clients) t.join();
  int ok = 0, exhausted = 0;
  for (const grpc::Status& s : statuses) {
    ok += s.ok();
    exhausted += s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(exhausted, 2);
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
}

TEST_F(InferenceServerTest, PerplexityOfTextMatchesInProcess) {
  StartServer({"stories=stories260K"});
  grpc::ClientContext context;
  v1::PerplexityRequest request;
  request.set_model("stories");
  request.set_text("Once upon a time there was a cat.\n\nThe dog ran to the park.");
  v1::PerplexityResponse response;
  ASSERT_TRUE(stub_->Perplexity(&context, request, &response).ok());
  EXPECT_EQ(response.documents(), 2);
  absl::StatusOr<LoadedModel> model = LoadModel(BundledModelDir());
  ASSERT_TRUE(model.ok());
  PerplexityOptions options;
  options.max_len = 512;
  absl::StatusOr<PerplexityResult> expected = ComputePerplexity(*model->engine, *model->tokenizer, request.text(), options);
  ASSERT_TRUE(expected.ok());
  EXPECT_NEAR(response.perplexity(), expected->ppl, 1e-9 * expected->ppl);
  EXPECT_EQ(response.tokens(), expected->tokens);
}

}  // namespace
}  // namespace transmla::testing

namespace transmla::testing {
namespace {

CommandResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), CliBinary().string());
  return RunCommand(args);
}

TEST_F(InferenceServerTest, CliGeneratesThroughTheServerAndManagesModels) {
  StartServer({"stories=stories260K"});
  const CommandResult local = Cli({"generate", "--model", BundledModelDir().string(), "--prompt", "Once upon a time",
                                   "--max-tokens", "32", "--json"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const CommandResult remote = Cli({"generate", "--server", server_->address(), "--model", "stories", "--prompt",
                                    "Once upon a time", "--max-tokens", "32", "--json"});
  ASSERT_EQ(remote.exit_code, 0) << remote.err;
  const nlohmann::json a = nlohmann::json::parse(local.out), b = nlohmann::json::parse(remote.out);
  EXPECT_EQ(a["token_ids"], b["token_ids"]);
  EXPECT_EQ(a["text"], b["text"]);
  EXPECT_EQ(a["prompt_tokens"], b["prompt_tokens"]);
  EXPECT_EQ(a["finish_reason"], b["finish_reason"]);
  const CommandResult streamed = Cli({"generate", "--server", server_->address(), "--model", "stories", "--prompt",
                                      "Once upon a time", "--max-tokens", "32"});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_EQ(streamed.out, b["text"].get<std::string>() + "\n");

  const CommandResult load = Cli({"models", "load", "copy", "--path", "stories260K", "--server", server_->address()});
  ASSERT_EQ(load.exit_code, 0) << load.err;
  EXPECT_NE(load.out.find("ready"), std::string::npos) << load.out;
  const CommandResult list = Cli({"models", "list", "--server", server_->address(), "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out)["models"].size(), 2u) << list.out;
  ASSERT_EQ(Cli({"models", "unload", "copy", "--server", server_->address()}).exit_code, 0);
  const CommandResult gone = Cli({"models", "get", "copy", "--server", server_->address()});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("GetModel"), std::string::npos) << gone.err;
}

TEST_F(InferenceServerTest, PythonClientStreamsAGeneration) {
  if (std::string(TRANSMLA_PYTHON).empty() || std::string(TRANSMLA_GRPC_PYTHON_PLUGIN).empty()) {
    GTEST_SKIP() << "no /usr/bin/python3 or grpc_python_plugin at configure time";
  }
  StartServer({"stories=stories260K"});
  const CommandResult result = RunCommand(
      {TRANSMLA_PYTHON, std::string(TRANSMLA_SOURCE_DIR) + "/tests/python/inference_client.py", "--address",
       server_->address(), "--proto-root", TRANSMLA_PROTO_ROOT, "--protoc", TRANSMLA_PROTOC, "--plugin",
       TRANSMLA_GRPC_PYTHON_PLUGIN, "--model", "stories", "--prompt", "Once upon a time", "--max-tokens", "32"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json summary = nlohmann::json::parse(result.out);
  const GenerationResult expected = InProcess("Once upon a time", 32);
  EXPECT_EQ(summary["models"], nlohmann::json::array({"stories"}));
  EXPECT_EQ(summary["token_ids"].get<std::vector<int32_t>>(), expected.token_ids);
  EXPECT_EQ(summary["text"], expected.text);
  EXPECT_EQ(summary["completion_tokens"], static_cast<int>(expected.token_ids.size()));
  EXPECT_GT(summary["chunks"].get<int>(), 10);
}

}  // namespace
}  // namespace transmla::testing

namespace transmla::testing {
namespace {

TEST_F(InferenceServerTest, GrpcurlExamplesWorkAsWritten) {
  if (std::string(TRANSMLA_PYTHON).empty()) GTEST_SKIP() << "no /usr/bin/python3 at configure time";
  StartServer({"stories=stories260K"});
  const std::string source = TRANSMLA_SOURCE_DIR;
  const CommandResult result = RunCommand(
      {TRANSMLA_PYTHON, source + "/tests/python/grpcurl_replay.py", "--address", server_->address(), "--markdown",
       source + "/docs/inference_server.md", "--only", "InferenceService", "--reflection-proto-root",
       source + "/tests/python/proto", "--protoc", TRANSMLA_PROTOC});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json replay = nlohmann::json::parse(result.out);
  ASSERT_EQ(replay["ran"].size(), 4u) << result.out;
  EXPECT_NE(replay["ran"][2]["output"].get<std::string>().find("\"finishReason\": \"length\""), std::string::npos)
      << result.out;
  EXPECT_NE(replay["ran"][3]["output"].get<std::string>().find("perplexity"), std::string::npos) << result.out;
}

TEST_F(InferenceServerTest, BenchmarkThroughTheServerComparesTwoLoadedModels) {
  StartServer({"a=stories260K", "b=stories260K"});
  const std::filesystem::path json = dir_ / "bench.json";
  const CommandResult r = RunCommand({CliBinary().string(), "bench", "--server", server_->address(), "--model-a", "a",
                                      "--model-b", "b", "--batch", "2", "--prompt-len", "8", "--output-len", "4",
                                      "--context-lengths", "16,32", "--quality-text", BundledTextFile().string(),
                                      "--quality-documents", "5", "--out-json", json.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(json);
  const nlohmann::json report = nlohmann::json::parse(in);
  EXPECT_EQ(report["a"]["model"], "a");
  EXPECT_EQ(report["b"]["model"], "b");
  EXPECT_EQ(report["a"]["contexts"].size(), 2u);
  EXPECT_EQ(report["quality"]["top1_agreement"], 1.0);
  EXPECT_NEAR(report["a"]["perplexity"].get<double>(), report["b"]["perplexity"].get<double>(), 1e-9);
  const CommandResult unknown = RunCommand({CliBinary().string(), "bench", "--server", server_->address(),
                                            "--model-a", "a", "--model-b", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("Benchmark"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace transmla::testing

namespace transmla::testing {
namespace {

TEST_F(InferenceServerTest, BearerTokenGuardsTheServiceButNotHealth) {
  StartServer({}, {"--auth-token", "s3cret"});
  {
    grpc::ClientContext context;
    v1::ListModelsResponse response;
    EXPECT_EQ(stub_->ListModels(&context, {}, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer s3cret");
    v1::ListModelsResponse response;
    EXPECT_TRUE(stub_->ListModels(&context, {}, &response).ok());
  }
  const CommandResult health = RunCommand({CliBinary().string(), "health", "--server", server_->address()});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  const CommandResult listed =
      RunCommand({CliBinary().string(), "models", "list", "--server", server_->address(), "--token", "s3cret"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
}

}  // namespace
}  // namespace transmla::testing
