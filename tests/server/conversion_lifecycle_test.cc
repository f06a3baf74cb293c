// End-to-end lifecycle: cancellation, concurrency limits, SIGKILL recovery and SIGTERM drain, on a
// real server process.
#include <signal.h>

#include <algorithm>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "server/common/file_digest.h"
#include "tests/server/server_fixture.h"
#include "tests/testing/run_command.h"

namespace transmla::testing {
namespace {

namespace v1 = transmla::v1;
namespace fs = std::filesystem;

// Files and folders under the artifact root whose names say "partial" (the converter's staging).
std::vector<std::string> PartialOutputs(const fs::path& root) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().find("partial") != std::string::npos) found.push_back(it->path().string());
  }
  return found;
}

TEST_F(ConversionServerTest, CancelStopsARunningConversionWithinASecond) {
  StartServer();
  v1::Job job;
  ASSERT_TRUE(Client().Submit(SlowRequest("to-cancel"), &job).ok());
  ASSERT_TRUE(Client().Submit(ExactRequest("queued-behind"), &job).ok());
  WaitForState("to-cancel", v1::JOB_STATE_RUNNING);
  // A queued job is cancelled at once.
  ASSERT_TRUE(Client().Cancel("queued-behind", &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
  const v1::Job running = WaitForLayer("to-cancel", 1);  // between layers, with more to come
  // The converter polls for cancellation between layers (core/convert/converter.h): the job must
  // stop at the next layer boundary, which on an idle machine is well within a second; on a loaded
  // one the wall-clock bound allows for a slow layer in flight.
  const double seconds_per_layer = running.progress().elapsed_seconds() / running.progress().layer();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(Client().Cancel("to-cancel", &job).ok());
  EXPECT_TRUE(job.cancel_requested() || job.state() == v1::JOB_STATE_CANCELLED);
  const v1::Job cancelled = WaitForState("to-cancel", v1::JOB_STATE_CANCELLED);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LE(cancelled.progress().layer(), job.progress().layer() + 1) << "no layer may start after the cancel";
  EXPECT_LT(cancelled.progress().layer(), cancelled.progress().layers()) << "it must stop before the end";
  EXPECT_LT(took, 1.0 + 3 * seconds_per_layer) << "mean layer time " << seconds_per_layer << " s";
  EXPECT_EQ(cancelled.error_code(), static_cast<int>(grpc::StatusCode::CANCELLED));
  EXPECT_FALSE(fs::exists(artifacts_ / "to-cancel")) << "a cancelled job leaves no output";
  EXPECT_TRUE(PartialOutputs(artifacts_).empty());
  v1::ListArtifactsResponse artifacts;
  EXPECT_EQ(Client().Artifacts("to-cancel", &artifacts).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Client().Cancel("to-cancel", &job).ok()) << "cancelling twice is a no-op";
}

TEST_F(ConversionServerTest, FourJobsWithALimitOfTwoNeverRunMoreThanTwoAtOnce) {
  StartServer(/*concurrency=*/2);
  v1::Job job;
  const std::vector<std::string> ids = {"c1", "c2", "c3", "c4"};
  for (const std::string& id : ids) ASSERT_TRUE(Client().Submit(SlowRequest(id), &job).ok());
  int most_running = 0, most_queued = 0;
  bool all_done = false;
  while (!all_done) {
    grpc::ClientContext context;
    v1::ListJobsResponse jobs;
    ASSERT_TRUE(stub_->ListJobs(&context, v1::ListJobsRequest(), &jobs).ok());
    int running = 0, queued = 0;
    all_done = true;
    for (const v1::Job& j : jobs.jobs()) {
      running += j.state() == v1::JOB_STATE_RUNNING;
      queued += j.state() == v1::JOB_STATE_QUEUED;
      all_done &= j.state() == v1::JOB_STATE_SUCCEEDED;
      ASSERT_NE(j.state(), v1::JOB_STATE_FAILED) << j.error_message();
    }
    most_running = std::max(most_running, running);
    most_queued = std::max(most_queued, queued);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(most_running, 2);
  EXPECT_GE(most_queued, 1);
  // The recorded run intervals agree: at no instant more than two overlap.
  std::vector<std::pair<int64_t, int>> edges;
  for (const std::string& id : ids) {
    ASSERT_TRUE(Client().Get(id, &job).ok());
    edges.push_back({job.start_time().seconds() * 1000 + job.start_time().nanos() / 1000000, +1});
    edges.push_back({job.end_time().seconds() * 1000 + job.end_time().nanos() / 1000000, -1});
  }
  std::sort(edges.begin(), edges.end());  // an end sorts before a start at the same millisecond
  int overlap = 0, most_overlap = 0;
  for (const auto& [t, d] : edges) most_overlap = std::max(most_overlap, overlap += d);
  EXPECT_EQ(most_overlap, 2);
}

TEST_F(ConversionServerTest, SigkillMidJobThenRestartKeepsFinishedJobsAndRedoesTheInterruptedOne) {
  StartServer();
  v1::Job job;
  ASSERT_TRUE(Client().Submit(ExactRequest("finished"), &job).ok());
  WaitForState("finished", v1::JOB_STATE_SUCCEEDED);
  v1::ListArtifactsResponse before;
  ASSERT_TRUE(Client().Artifacts("finished", &before).ok());
  ASSERT_TRUE(Client().Submit(SlowRequest("interrupted"), &job).ok());
  WaitForLayer("interrupted", 1);  // mid-job: the staging folder holds a partial output
  EXPECT_EQ(server_->Stop(SIGKILL), 128 + SIGKILL);

  StartServer();
  // Nothing half-written is visible: the interrupted job has no artifacts until it succeeds again.
  v1::ListArtifactsResponse partial;
  const grpc::Status listing = Client().Artifacts("interrupted", &partial);
  if (listing.ok()) {
    ASSERT_TRUE(Client().Get("interrupted", &job).ok());
    EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  } else {
    EXPECT_EQ(listing.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  v1::ListArtifactsResponse after;
  ASSERT_TRUE(Client().Artifacts("finished", &after).ok());
  ASSERT_EQ(after.artifacts_size(), before.artifacts_size());
  for (int i = 0; i < after.artifacts_size(); ++i) {
    EXPECT_EQ(after.artifacts(i).sha256(), before.artifacts(i).sha256());
    std::string data;
    ASSERT_TRUE(Client().Read("finished", after.artifacts(i).path(), 0, 0, &data).ok());
    EXPECT_EQ(server::Sha256OfBytes(data), after.artifacts(i).sha256());
  }
  const v1::Job redone = WaitForState("interrupted", v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(redone.attempts(), 2) << "the interrupted attempt counts";
  EXPECT_TRUE(PartialOutputs(artifacts_).empty());
  v1::ListArtifactsResponse complete;
  ASSERT_TRUE(Client().Artifacts("interrupted", &complete).ok());
  EXPECT_GT(complete.artifacts_size(), 0);
}

TEST_F(ConversionServerTest, SigtermDrainsHealthThenCheckpointsAndExitsCleanly) {
  StartServer(1, {"--shutdown-grace-seconds", "1"});
  v1::Job job;
  ASSERT_TRUE(Client().Submit(SlowRequest("drained"), &job).ok());
  WaitForState("drained", v1::JOB_STATE_RUNNING);
  auto health = grpc::health::v1::Health::NewStub(server_->Channel());
  server_->Signal(SIGTERM);
  bool saw_not_serving = false;
  for (int i = 0; i < 100 && !saw_not_serving; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
    saw_not_serving = status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
    if (!status.ok()) break;  // already gone
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(saw_not_serving) << "health must say NOT_SERVING while draining";
  EXPECT_EQ(server_->Stop(SIGTERM, 30), 0);
  StartServer();
  const v1::Job redone = WaitForState("drained", v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(redone.attempts(), 1) << "a shutdown checkpoint is not a failed attempt";
}

TEST_F(ConversionServerTest, SecondServerOnTheSameStateDirectoryRefusesToStart) {
  StartServer();
  const CommandResult second = RunCommand({TRANSMLA_SERVER_BINARY, "--listen", "127.0.0.1:0", "--model-root",
                                           artifacts_.string(), "--artifact-root", artifacts_.string(), "--state-dir",
                                           state_.string(), "--metrics-port", "-1"});
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_NE(second.err.find("in use by another server"), std::string::npos) << second.err;
}

}  // namespace
}  // namespace transmla::testing
