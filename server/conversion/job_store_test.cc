#include "server/conversion/job_store.h"

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace transmla::server {
namespace {

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = transmla::testing::MakeTempDir("job_store");
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto store = JobStore::Open(dir_ / "jobs.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void Add(const std::string& id) {
    JobRecord job;
    job.job_id = id;
    job.request = std::string("req\0uest-", 9) + id;  // binary-safe
    job.create_time_ms = 1000;
    ASSERT_TRUE(store_->Insert(job).ok());
  }

  std::filesystem::path dir_;
  std::unique_ptr<JobStore> store_;
};

TEST_F(JobStoreTest, InsertedJobIsQueuedAndReadBackWhole) {
  Add("a");
  auto job = store_->Get("a");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kQueued);
  EXPECT_EQ(job->request, std::string("req\0uest-a", 10));
  EXPECT_EQ(job->create_time_ms, 1000);
  EXPECT_EQ(store_->Get("b").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobStoreTest, DuplicateIdIsAlreadyExists) {
  Add("a");
  JobRecord again;
  again.job_id = "a";
  EXPECT_EQ(store_->Insert(again).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(JobStoreTest, SucceededJobKeepsReportAndArtifactsAcrossReopen) {
  Add("a");
  ASSERT_TRUE(store_->MarkRunning("a", 2000).ok());
  ASSERT_TRUE(store_->MarkSucceeded("a", 3000, "{\"ok\":1}", {{"config.json", 10, "ab"}, {"m.safetensors", 99, "cd"}}).ok());
  Reopen();
  auto job = store_->Get("a");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, JobState::kSucceeded);
  EXPECT_EQ(job->attempts, 1);
  EXPECT_EQ(job->start_time_ms, 2000);
  EXPECT_EQ(job->end_time_ms, 3000);
  EXPECT_EQ(job->report_json, "{\"ok\":1}");
  auto artifacts = store_->Artifacts("a");
  ASSERT_TRUE(artifacts.ok());
  ASSERT_EQ(artifacts->size(), 2u);
  EXPECT_EQ((*artifacts)[1].path, "m.safetensors");
  EXPECT_EQ((*artifacts)[1].size, 99);
}

TEST_F(JobStoreTest, TransitionsRefuseWrongStates) {
  Add("a");
  EXPECT_EQ(store_->MarkSucceeded("a", 1, "", {}).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->MarkStopped("a", JobState::kCancelled, 5, 1, "cancelled by client").ok());
  EXPECT_EQ(store_->MarkRunning("a", 6).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->MarkStopped("a", JobState::kFailed, 7, 2, "x").code(), absl::StatusCode::kFailedPrecondition);
  auto job = store_->Get("a");
  EXPECT_EQ(job->state, JobState::kCancelled);
  EXPECT_EQ(job->error_message, "cancelled by client");
}

TEST_F(JobStoreTest, ListFiltersByStateAndPagesBySeq) {
  for (const char* id : {"a", "b", "c", "d"}) Add(id);
  ASSERT_TRUE(store_->MarkRunning("b", 1).ok());
  auto page = store_->List({}, 0, 3);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 3u);
  auto rest = store_->List({}, page->back().seq, 3);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->front().job_id, "d");
  auto queued = store_->List({JobState::kQueued}, 0, 10);
  EXPECT_EQ(queued->size(), 3u);
  EXPECT_EQ(*store_->CountInState(JobState::kRunning), 1);
}

TEST_F(JobStoreTest, RecoveryRequeuesInterruptedJobsUntilAttemptsRunOut) {
  Add("a");
  ASSERT_TRUE(store_->MarkRunning("a", 1).ok());
  Reopen();  // as after SIGKILL
  auto touched = store_->RecoverInterrupted(/*max_attempts=*/2, 10);
  ASSERT_TRUE(touched.ok());
  EXPECT_EQ(*touched, std::vector<std::string>{"a"});
  EXPECT_EQ(store_->Get("a")->state, JobState::kQueued);
  ASSERT_TRUE(store_->MarkRunning("a", 11).ok());
  ASSERT_TRUE(store_->RecoverInterrupted(2, 20).ok());
  auto job = store_->Get("a");
  EXPECT_EQ(job->state, JobState::kFailed);
  EXPECT_EQ(job->error_code, static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_NE(job->error_message.find("interrupted"), std::string::npos);
}

TEST_F(JobStoreTest, ShutdownRequeueDoesNotCountTheAttempt) {
  Add("a");
  ASSERT_TRUE(store_->MarkRunning("a", 1).ok());
  ASSERT_TRUE(store_->Requeue("a").ok());
  EXPECT_EQ(store_->Get("a")->attempts, 0);
}

TEST_F(JobStoreTest, DeleteRemovesJobAndArtifacts) {
  Add("a");
  ASSERT_TRUE(store_->MarkRunning("a", 1).ok());
  ASSERT_TRUE(store_->MarkSucceeded("a", 2, "{}", {{"f", 1, "00"}}).ok());
  ASSERT_TRUE(store_->Delete("a").ok());
  EXPECT_EQ(store_->Get("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Artifacts("a")->empty());
  EXPECT_EQ(store_->Delete("a").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace transmla::server
