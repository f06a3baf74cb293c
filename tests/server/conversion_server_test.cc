// End-to-end: a real transmla-convert-server on a loopback port, real gRPC clients.
#include <cmath>
#include <sstream>
#include <thread>

#include "grpcpp/health_check_service_interface.h"
#include "nlohmann/json.hpp"
#include "server/common/file_digest.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/server/server_fixture.h"
#ifdef TRANSMLA_HAVE_CUDA
#include "core/engine/cuda/cuda_engine.h"
#endif

namespace transmla::testing {
namespace {

namespace v1 = transmla::v1;

TEST_F(ConversionServerTest, SubmitWatchAndDownloadAnExactConversion) {
  StartServer();
  v1::Job job;
  ASSERT_TRUE(Client().Submit(ExactRequest("exact-1"), &job).ok());
  EXPECT_EQ(job.job_id(), "exact-1");
  std::vector<v1::JobEvent> events;
  const grpc::Status watched = Client().Watch("exact-1", &events);
  ASSERT_TRUE(watched.ok()) << watched.error_message();
  ASSERT_FALSE(events.empty());
  const v1::Job& last = events.back().job();
  ASSERT_EQ(last.state(), v1::JOB_STATE_SUCCEEDED) << last.DebugString();
  EXPECT_EQ(last.progress().layers(), 5);  // stories260K
  EXPECT_EQ(last.progress().layer(), 5);
  EXPECT_GT(last.progress().bytes_written(), 0);
  const nlohmann::json report = nlohmann::json::parse(last.report_json());
  EXPECT_EQ(report["mode"], "exact");
  int log_lines = 0;
  for (const auto& e : events) log_lines += e.logs_size();
  EXPECT_GT(log_lines, 0);
  // A watcher joining late first gets the current state (here the end, with report and history).
  std::vector<v1::JobEvent> late;
  ASSERT_TRUE(Client().Watch("exact-1", &late).ok());
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].job().state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(late[0].job().report_json(), last.report_json());
  EXPECT_EQ(late[0].logs_size(), log_lines);

  v1::ListArtifactsResponse artifacts;
  ASSERT_TRUE(Client().Artifacts("exact-1", &artifacts).ok());
  bool has_config = false;
  for (const v1::Artifact& a : artifacts.artifacts()) {
    has_config |= a.path() == "config.json";
    std::string data;
    ASSERT_TRUE(Client().Read("exact-1", a.path(), 0, 0, &data).ok()) << a.path();
    EXPECT_EQ(static_cast<int64_t>(data.size()), a.size_bytes()) << a.path();
    EXPECT_EQ(server::Sha256OfBytes(data), a.sha256()) << a.path();
    // The same bytes as on disk, and a read resumed halfway gives the rest.
    std::string tail;
    const int64_t half = a.size_bytes() / 2;
    ASSERT_TRUE(Client().Read("exact-1", a.path(), half, 0, &tail).ok());
    EXPECT_EQ(tail, data.substr(static_cast<size_t>(half)));
  }
  EXPECT_TRUE(has_config);
}

TEST_F(ConversionServerTest, ArtifactStreamsInChunksOfAtMostOneMebibyte) {
  StartServer();
  v1::Job job;
  v1::SubmitJobRequest request = ExactRequest("chunks");
  request.mutable_options()->set_dtype(v1::OUTPUT_DTYPE_F32);
  ASSERT_TRUE(Client().Submit(request, &job).ok());
  WaitForState("chunks", v1::JOB_STATE_SUCCEEDED);
  v1::ListArtifactsResponse artifacts;
  ASSERT_TRUE(Client().Artifacts("chunks", &artifacts).ok());
  const v1::Artifact* largest = &artifacts.artifacts(0);
  for (const auto& a : artifacts.artifacts()) if (a.size_bytes() > largest->size_bytes()) largest = &a;
  ASSERT_GT(largest->size_bytes(), 1 << 20) << "need a file over 1 MiB to see chunking";
  std::string data;
  ASSERT_TRUE(Client().Read("chunks", largest->path(), 0, 0, &data).ok());  // Read checks each chunk <= 1 MiB
  EXPECT_EQ(server::Sha256OfBytes(data), largest->sha256());
  std::string window;
  ASSERT_TRUE(Client().Read("chunks", largest->path(), 1000, 5000, &window).ok());
  EXPECT_EQ(window, data.substr(1000, 5000));
}

TEST_F(ConversionServerTest, ResubmittingTheSameJobIdIsIdempotent) {
  StartServer();
  v1::Job first, second, conflict;
  ASSERT_TRUE(Client().Submit(ExactRequest("same"), &first).ok());
  ASSERT_TRUE(Client().Submit(ExactRequest("same"), &second).ok());
  EXPECT_EQ(second.job_id(), "same");
  EXPECT_EQ(second.create_time().seconds(), first.create_time().seconds());
  WaitForState("same", v1::JOB_STATE_SUCCEEDED);
  v1::Job after;
  ASSERT_TRUE(Client().Submit(ExactRequest("same"), &after).ok());  // still the same job once finished
  EXPECT_EQ(after.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(after.attempts(), 1);
  v1::SubmitJobRequest different = ExactRequest("same");
  different.mutable_options()->set_dtype(v1::OUTPUT_DTYPE_BF16);
  const grpc::Status status = Client().Submit(different, &conflict);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(status.error_message().find("job_id"), std::string::npos);
}

struct InvalidCase {
  const char* name;
  std::function<void(v1::SubmitJobRequest*)> mutate;
  grpc::StatusCode code;
  const char* field;
};

TEST_F(ConversionServerTest, EveryInvalidSubmitFieldGetsItsCodeAndIsNamed) {
  StartServer();
  const InvalidCase cases[] = {
      {"job_id format", [](auto* r) { r->set_job_id("Bad/Id"); }, grpc::StatusCode::INVALID_ARGUMENT, "job_id"},
      {"job_id length", [](auto* r) { r->set_job_id(std::string(64, 'a')); }, grpc::StatusCode::INVALID_ARGUMENT, "job_id"},
      {"source empty", [](auto* r) { r->set_source_model(""); }, grpc::StatusCode::INVALID_ARGUMENT, "source_model"},
      {"source dotdot", [](auto* r) { r->set_source_model("../models/stories260K"); }, grpc::StatusCode::INVALID_ARGUMENT, "source_model"},
      {"source absolute elsewhere", [](auto* r) { r->set_source_model("/etc"); }, grpc::StatusCode::PERMISSION_DENIED, "source_model"},
      {"source missing", [](auto* r) { r->set_source_model("no-such-model"); }, grpc::StatusCode::NOT_FOUND, "source_model"},
      {"source not a model", [](auto* r) { r->set_source_model("tinystories_val_head.txt"); }, grpc::StatusCode::INVALID_ARGUMENT, "source_model"},
      {"mode", [](auto* r) { r->mutable_options()->set_mode(static_cast<v1::ConversionMode>(9)); }, grpc::StatusCode::INVALID_ARGUMENT, "options.mode"},
      {"kv_lora_rank", [](auto* r) { r->mutable_options()->set_kv_lora_rank(-1); }, grpc::StatusCode::INVALID_ARGUMENT, "options.kv_lora_rank"},
      {"kv_lora_rank for shape", [](auto* r) { r->mutable_options()->set_mode(v1::CONVERSION_MODE_DEEPSEEK); r->mutable_options()->set_kv_lora_rank(100000); }, grpc::StatusCode::INVALID_ARGUMENT, "kv_lora_rank"},
      {"qk_rope_head_dim", [](auto* r) { r->mutable_options()->set_qk_rope_head_dim(3); }, grpc::StatusCode::INVALID_ARGUMENT, "options.qk_rope_head_dim"},
      {"rope_pairs", [](auto* r) { r->mutable_options()->set_rope_pairs(0); }, grpc::StatusCode::INVALID_ARGUMENT, "options.rope_pairs"},
      {"collapse", [](auto* r) { r->mutable_options()->set_collapse(0); }, grpc::StatusCode::INVALID_ARGUMENT, "options.collapse"},
      {"freqfold", [](auto* r) { r->mutable_options()->set_freqfold(0); }, grpc::StatusCode::INVALID_ARGUMENT, "options.freqfold"},
      {"q_lora_rank", [](auto* r) { r->mutable_options()->set_q_lora_rank(-1); }, grpc::StatusCode::INVALID_ARGUMENT, "options.q_lora_rank"},
      {"rotation", [](auto* r) { r->mutable_options()->set_rotation(static_cast<v1::Rotation>(42)); }, grpc::StatusCode::INVALID_ARGUMENT, "options.rotation"},
      {"balance", [](auto* r) { r->mutable_options()->set_balance(static_cast<v1::Balance>(42)); }, grpc::StatusCode::INVALID_ARGUMENT, "options.balance"},
      {"alpha negative", [](auto* r) { r->mutable_options()->set_alpha(-1); }, grpc::StatusCode::INVALID_ARGUMENT, "options.alpha"},
      {"alpha nan", [](auto* r) { r->mutable_options()->set_alpha(std::nan("")); }, grpc::StatusCode::INVALID_ARGUMENT, "options.alpha"},
      {"dtype", [](auto* r) { r->mutable_options()->set_dtype(static_cast<v1::OutputDType>(7)); }, grpc::StatusCode::INVALID_ARGUMENT, "options.dtype"},
      {"max_norm_deviation", [](auto* r) { r->mutable_options()->set_max_norm_deviation(2); }, grpc::StatusCode::INVALID_ARGUMENT, "options.max_norm_deviation"},
      {"max_shard_bytes", [](auto* r) { r->mutable_options()->set_max_shard_bytes(10); }, grpc::StatusCode::INVALID_ARGUMENT, "options.max_shard_bytes"},
      {"calibration text dotdot", [](auto* r) { r->mutable_options()->mutable_calibration()->set_text("../../etc/passwd"); }, grpc::StatusCode::INVALID_ARGUMENT, "options.calibration.text"},
      {"calibration text elsewhere", [](auto* r) { r->mutable_options()->mutable_calibration()->set_text("/etc/passwd"); }, grpc::StatusCode::PERMISSION_DENIED, "options.calibration.text"},
      {"calibration text folder", [](auto* r) { r->mutable_options()->mutable_calibration()->set_text("stories260K"); }, grpc::StatusCode::INVALID_ARGUMENT, "options.calibration.text"},
      {"calibration samples", [](auto* r) { r->mutable_options()->mutable_calibration()->set_samples(0); }, grpc::StatusCode::INVALID_ARGUMENT, "options.calibration.samples"},
      {"calibration max_length", [](auto* r) { r->mutable_options()->mutable_calibration()->set_max_length(1); }, grpc::StatusCode::INVALID_ARGUMENT, "options.calibration.max_length"},
      {"calibration first_document", [](auto* r) { r->mutable_options()->mutable_calibration()->set_first_document(-1); }, grpc::StatusCode::INVALID_ARGUMENT, "options.calibration.first_document"},
      {"calibration documents", [](auto* r) { r->mutable_options()->mutable_calibration()->set_documents(0); }, grpc::StatusCode::INVALID_ARGUMENT, "options.calibration.documents"},
      {"calibration device", [](auto* r) { r->mutable_options()->mutable_calibration()->set_device(static_cast<v1::CalibrationDevice>(9)); }, grpc::StatusCode::INVALID_ARGUMENT, "options.calibration.device"},
      {"labels", [](auto* r) { for (int i = 0; i < 17; ++i) (*r->mutable_labels())["k" + std::to_string(i)] = "v"; }, grpc::StatusCode::INVALID_ARGUMENT, "labels"},
  };
  for (const InvalidCase& c : cases) {
    v1::SubmitJobRequest request = ExactRequest("");
    c.mutate(&request);
    v1::Job job;
    const grpc::Status status = Client().Submit(request, &job);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.field), std::string::npos) << c.name << ": " << status.error_message();
  }
  grpc::ClientContext context;
  v1::ListJobsRequest list;
  v1::ListJobsResponse jobs;
  ASSERT_TRUE(stub_->ListJobs(&context, list, &jobs).ok());
  EXPECT_EQ(jobs.jobs_size(), 0) << "no refused request may leave a job";
}

TEST_F(ConversionServerTest, CudaCalibrationWithoutAGpuIsRefusedAtSubmit) {
#ifdef TRANSMLA_HAVE_CUDA
  if (cuda::CudaDeviceAvailable(nullptr)) GTEST_SKIP() << "this machine has a CUDA device: the server accepts cuda";
#endif
  StartServer();
  v1::SubmitJobRequest request = ExactRequest("cuda-calibration");
  request.mutable_options()->mutable_calibration()->set_device(v1::CALIBRATION_DEVICE_CUDA);
  v1::Job job;
  const grpc::Status status = Client().Submit(request, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_NE(status.error_message().find("options.calibration.device"), std::string::npos) << status.error_message();
  EXPECT_EQ(Client().Get("cuda-calibration", &job).error_code(), grpc::StatusCode::NOT_FOUND);
  // auto takes the CPU here.
  request.mutable_options()->mutable_calibration()->set_device(v1::CALIBRATION_DEVICE_AUTO);
  ASSERT_TRUE(Client().Submit(request, &job).ok());
  WaitForState("cuda-calibration", v1::JOB_STATE_SUCCEEDED);
}

TEST_F(ConversionServerTest, OtherMethodsValidateTheirFields) {
  StartServer();
  v1::Job job;
  EXPECT_EQ(Client().Get("", &job).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Client().Get("unknown", &job).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Client().Cancel("unknown", &job).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Client().Submit(ExactRequest("done"), &job).ok());
  WaitForState("done", v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Client().Cancel("done", &job).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  std::string data;
  EXPECT_EQ(Client().Read("done", "../state/jobs.db", 0, 0, &data).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Client().Read("done", "/etc/passwd", 0, 0, &data).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Client().Read("done", "missing.bin", 0, 0, &data).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Client().Read("done", "config.json", -1, 0, &data).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Client().Read("done", "config.json", 1 << 30, 0, &data).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  {  // the caller's request id comes back (and is in the server's log lines for the call)
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "my-req-1");
    v1::GetJobRequest get;
    get.set_job_id("done");
    ASSERT_TRUE(stub_->GetJob(&context, get, &job).ok());
    const auto& metadata = context.GetServerInitialMetadata();
    auto it = metadata.find("x-request-id");
    ASSERT_NE(it, metadata.end());
    EXPECT_EQ(std::string(it->second.data(), it->second.size()), "my-req-1");
  }
  grpc::ClientContext context;
  v1::ListJobsRequest list;
  list.set_page_size(1000);
  v1::ListJobsResponse jobs;
  const grpc::Status status = stub_->ListJobs(&context, list, &jobs);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("page_size"), std::string::npos);
}

TEST_F(ConversionServerTest, ListJobsFiltersByStateAndPages) {
  StartServer();
  v1::Job job;
  for (const char* id : {"l1", "l2", "l3"}) ASSERT_TRUE(Client().Submit(ExactRequest(id), &job).ok());
  for (const char* id : {"l1", "l2", "l3"}) WaitForState(id, v1::JOB_STATE_SUCCEEDED);
  std::vector<std::string> seen;
  std::string token;
  do {
    grpc::ClientContext context;
    v1::ListJobsRequest request;
    request.set_page_size(2);
    request.set_page_token(token);
    request.add_states(v1::JOB_STATE_SUCCEEDED);
    v1::ListJobsResponse page;
    ASSERT_TRUE(stub_->ListJobs(&context, request, &page).ok());
    EXPECT_LE(page.jobs_size(), 2);
    for (const auto& j : page.jobs()) seen.push_back(j.job_id());
    token = page.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(seen, (std::vector<std::string>{"l1", "l2", "l3"}));
  grpc::ClientContext context;
  v1::ListJobsRequest failed_only;
  failed_only.add_states(v1::JOB_STATE_FAILED);
  v1::ListJobsResponse none;
  ASSERT_TRUE(stub_->ListJobs(&context, failed_only, &none).ok());
  EXPECT_EQ(none.jobs_size(), 0);
}

TEST_F(ConversionServerTest, DeleteRemovesJobAndArtifacts) {
  StartServer();
  v1::Job job;
  ASSERT_TRUE(Client().Submit(ExactRequest("gone"), &job).ok());
  WaitForState("gone", v1::JOB_STATE_SUCCEEDED);
  ASSERT_TRUE(std::filesystem::exists(artifacts_ / "gone" / "model" / "config.json"));
  grpc::ClientContext context;
  v1::DeleteJobRequest request;
  request.set_job_id("gone");
  v1::DeleteJobResponse response;
  ASSERT_TRUE(stub_->DeleteJob(&context, request, &response).ok());
  EXPECT_FALSE(std::filesystem::exists(artifacts_ / "gone"));
  EXPECT_EQ(Client().Get("gone", &job).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ListArtifactsResponse artifacts;
  EXPECT_EQ(Client().Artifacts("gone", &artifacts).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ConversionServerTest, UnauthenticatedCallsAreRefusedWhenATokenIsSet) {
  StartServer(1, {"--auth-token", "s3cret"});
  v1::Job job;
  EXPECT_EQ(Client().Submit(ExactRequest("a1"), &job).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Client("wrong").Submit(ExactRequest("a1"), &job).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Client().Get("a1", &job).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  std::vector<v1::JobEvent> events;
  EXPECT_EQ(Client().Watch("a1", &events).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(Client("s3cret").Submit(ExactRequest("a1"), &job).ok());
  ASSERT_TRUE(Client("s3cret").Get("a1", &job).ok());
  // Health stays open for probes.
  auto health = grpc::health::v1::Health::NewStub(server_->Channel());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ConversionServerTest, WatchHonoursTheClientDeadline) {
  StartServer();
  v1::Job job;
  // Every calibration story at full length: seconds of work even on an idle machine, so the job is
  // still running when the watcher's 0.2 s deadline passes.
  v1::SubmitJobRequest request = SlowRequest("slow-deadline");
  request.mutable_options()->mutable_calibration()->set_samples(1000);
  request.mutable_options()->mutable_calibration()->set_max_length(512);
  ASSERT_TRUE(Client().Submit(request, &job).ok());
  std::vector<v1::JobEvent> events;
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = Client().Watch("slow-deadline", &events, 0.2);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  ASSERT_FALSE(events.empty()) << "a watcher first gets the current state";
}

TEST_F(ConversionServerTest, MetricsEndpointCountsJobsByState) {
  StartServer();
  v1::Job job;
  ASSERT_TRUE(Client().Submit(ExactRequest("m1"), &job).ok());
  WaitForState("m1", v1::JOB_STATE_SUCCEEDED);
  std::string data;
  ASSERT_TRUE(Client().Read("m1", "config.json", 0, 0, &data).ok());
  // Gauges follow the store a moment after a state change (scrapes are periodic anyway).
  std::string metrics;
  for (int i = 0; i < 100 && metrics.find("transmla_jobs{state=\"succeeded\"} 1") == std::string::npos; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    metrics = HttpGet(server_->metrics_port(), "/metrics");
  }
  EXPECT_NE(metrics.find("transmla_jobs{state=\"succeeded\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("transmla_jobs_submitted_total 1"), std::string::npos);
  EXPECT_NE(metrics.find("transmla_job_duration_seconds_count{state=\"succeeded\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("transmla_artifact_bytes_served_total"), std::string::npos);
}

TEST_F(ConversionServerTest, JsonLogsAreOneValidObjectPerLineWithRequestAndJobIds) {
  StartServer(1, {"--log-format", "json"});
  v1::Job job;
  v1::SubmitJobRequest quoted = ExactRequest("logged");
  quoted.set_source_model("has \"quotes\" and \\ backslash");
  EXPECT_EQ(Client().Submit(quoted, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Client().Submit(ExactRequest("logged"), &job).ok());
  WaitForState("logged", v1::JOB_STATE_SUCCEEDED);
  std::istringstream log(server_->Log());
  int objects = 0;
  bool saw_request_id = false, saw_job = false;
  for (std::string line; std::getline(log, line);) {
    if (line.empty() || line[0] != '{') continue;  // gRPC's own stderr lines, if any
    const nlohmann::json entry = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(entry.is_discarded()) << line;
    ++objects;
    const std::string msg = entry["msg"];
    saw_request_id |= msg.find("req=") != std::string::npos && msg.find("\"quotes\"") != std::string::npos;
    saw_job |= msg.find("[job logged]") != std::string::npos;
  }
  EXPECT_GT(objects, 3);
  EXPECT_TRUE(saw_request_id);
  EXPECT_TRUE(saw_job);
}

}  // namespace
}  // namespace transmla::testing
