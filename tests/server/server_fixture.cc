#include "tests/server/server_fixture.h"

#include <thread>

#include "tests/testing/test_paths.h"

namespace transmla::testing {

namespace v1 = transmla::v1;

// Calibration documents of the slow job: sized so that a CLI started after its first layer still
// finds it running (2.2 s for the whole job on the 2-core machine; 24 documents, 0.2 s since the
// conversion got faster, lost that race in 6 of 15 runs).
constexpr int64_t kSlowSamples = 400;

void ConversionServerTest::SetUp() {
  dir_ = std::filesystem::canonical(MakeTempDir("conversion_server"));
  artifacts_ = dir_ / "artifacts";
  state_ = dir_ / "state";
}

void ConversionServerTest::TearDown() {
  if (server_ && HasFailure()) std::cerr << "---- server log ----\n" << server_->Log();
  stub_.reset();
  server_.reset();
  if (!HasFailure()) std::filesystem::remove_all(dir_);
}

void ConversionServerTest::StartServer(int concurrency, std::vector<std::string> extra_flags) {
  stub_.reset();
  server_.reset();
  server_ = ServerProcess::Start({std::filesystem::canonical(BundledModelDir().parent_path()), artifacts_, state_,
                                  concurrency, std::move(extra_flags)});
  ASSERT_NE(server_, nullptr);
  stub_ = server_->Stub();
}

v1::SubmitJobRequest ConversionServerTest::ExactRequest(const std::string& job_id) {
  v1::SubmitJobRequest request;
  request.set_job_id(job_id);
  request.set_source_model("stories260K");
  request.mutable_options()->set_mode(v1::CONVERSION_MODE_EXACT);
  return request;
}

v1::SubmitJobRequest ConversionServerTest::SlowRequest(const std::string& job_id) {
  v1::SubmitJobRequest request;
  request.set_job_id(job_id);
  request.set_source_model("stories260K");
  v1::ConversionOptions* options = request.mutable_options();
  options->set_mode(v1::CONVERSION_MODE_DEEPSEEK);
  options->set_kv_lora_rank(16);
  options->mutable_calibration()->set_text("tinystories_val_head.txt");
  options->mutable_calibration()->set_samples(kSlowSamples);
  options->mutable_calibration()->set_max_length(128);
  // A fixed K/V balance and no value refit keep each layer short, so a cancel lands between layers fast.
  options->set_alpha(1.0);
  options->set_no_value_refit(false);
  return request;
}

v1::Job ConversionServerTest::WaitForState(const std::string& job_id, v1::JobState state) {
  v1::Job job;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    job = v1::Job();
    const grpc::Status status = Client().Get(job_id, &job);
    if (status.ok() && job.state() == state) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << job_id << " never reached " << v1::JobState_Name(state) << "; last: " << job.DebugString();
  return job;
}

}  // namespace transmla::testing

namespace transmla::testing {

v1::Job ConversionServerTest::WaitForLayer(const std::string& job_id, int64_t layer) {
  v1::Job job;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    job = v1::Job();
    if (Client().Get(job_id, &job).ok() &&
        (job.progress().layer() >= layer || (job.state() != v1::JOB_STATE_QUEUED && job.state() != v1::JOB_STATE_RUNNING))) {
      EXPECT_EQ(job.state(), v1::JOB_STATE_RUNNING) << job_id << " ended before layer " << layer;
      return job;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << job_id << " never reached layer " << layer;
  return job;
}

}  // namespace transmla::testing
