#include "server/conversion/job_queue.h"

#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "server/common/file_digest.h"
#include "tests/testing/test_paths.h"

namespace transmla::server {
namespace {
namespace fs = std::filesystem;

// A runner that behaves like the converter: `steps` layers of 20 ms with progress and a cancel
// check between them, output built in a staging folder and renamed into place at the end.
JobRunner SteppingRunner(int steps) {
  return [steps](const JobRecord& job, const fs::path& destination, const convert::ProgressCallback& progress,
                 const convert::CancelCheck& cancelled) -> absl::StatusOr<std::string> {
    const fs::path staging = destination.parent_path() / ".model.partial";
    fs::create_directories(staging);
    for (int i = 0; i < steps; ++i) {
      if (cancelled()) {
        fs::remove_all(staging);
        return absl::CancelledError("conversion cancelled");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      progress({"convert", i + 1, steps, (i + 1) * 100});
    }
    std::ofstream(staging / "weights.bin") << "weights of " << job.job_id;
    fs::rename(staging, destination);
    return std::string("{\"steps\":") + std::to_string(steps) + "}";
  };
}

class JobQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = transmla::testing::MakeTempDir("job_queue");
    fs::create_directories(dir_ / "artifacts");
    store_ = *JobStore::Open(dir_ / "jobs.db");
  }
  void TearDown() override {
    queue_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void StartQueue(int steps, int concurrency = 1, int queue_limit = 8) {
    queue_ = std::make_unique<JobQueue>(store_.get(), SteppingRunner(steps),
                                        JobQueueOptions{dir_ / "artifacts", concurrency, queue_limit, 3}, nullptr);
    ASSERT_TRUE(queue_->Start().ok());
  }
  absl::Status Submit(const std::string& id) {
    JobRecord job;
    job.job_id = id;
    job.create_time_ms = NowMs();
    return queue_->Submit(job);
  }
  JobState WaitWhile(const std::string& id, JobState state) {
    for (int i = 0; i < 1000; ++i) {
      const JobState now = store_->Get(id)->state;
      if (now != state) return now;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return state;
  }

  fs::path dir_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<JobQueue> queue_;
};

TEST_F(JobQueueTest, SucceededJobHasItsArtifactsHashed) {
  StartQueue(3);
  ASSERT_TRUE(Submit("a").ok());
  EXPECT_EQ(WaitWhile("a", JobState::kQueued), JobState::kRunning);
  EXPECT_EQ(WaitWhile("a", JobState::kRunning), JobState::kSucceeded);
  auto artifacts = store_->Artifacts("a");
  ASSERT_EQ(artifacts->size(), 1u);
  EXPECT_EQ((*artifacts)[0].path, "weights.bin");
  EXPECT_EQ((*artifacts)[0].sha256, Sha256OfBytes("weights of a"));
  EXPECT_EQ(store_->Get("a")->report_json, "{\"steps\":3}");
}

TEST_F(JobQueueTest, CancelStopsARunningJobWithinASecondAndLeavesNothing) {
  StartQueue(1000);  // 20 s if never cancelled
  ASSERT_TRUE(Submit("a").ok());
  EXPECT_EQ(WaitWhile("a", JobState::kQueued), JobState::kRunning);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(queue_->Cancel("a").ok());
  EXPECT_TRUE(queue_->View("a", 0)->progress.cancel_requested);
  EXPECT_EQ(WaitWhile("a", JobState::kRunning), JobState::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_FALSE(fs::exists(queue_->JobDir("a")));
  EXPECT_TRUE(queue_->Cancel("a").ok());
}

TEST_F(JobQueueTest, CancelOfAQueuedJobIsImmediate) {
  StartQueue(1000);
  ASSERT_TRUE(Submit("running").ok());
  ASSERT_TRUE(Submit("waiting").ok());
  ASSERT_TRUE(queue_->Cancel("waiting").ok());
  EXPECT_EQ(store_->Get("waiting")->state, JobState::kCancelled);
  ASSERT_TRUE(queue_->Cancel("running").ok());
}

TEST_F(JobQueueTest, QueueLimitAndDrainingRefuseNewJobs) {
  StartQueue(1000, 1, /*queue_limit=*/1);
  ASSERT_TRUE(Submit("running").ok());
  WaitWhile("running", JobState::kQueued);
  ASSERT_TRUE(Submit("queued").ok());
  EXPECT_EQ(Submit("overflow").code(), absl::StatusCode::kResourceExhausted);
  queue_->Drain(absl::ZeroDuration());
  EXPECT_EQ(Submit("late").code(), absl::StatusCode::kUnavailable);
}

TEST_F(JobQueueTest, DrainCheckpointsRunningJobsAndARestartRunsThem) {
  StartQueue(1000);
  ASSERT_TRUE(Submit("a").ok());
  ASSERT_TRUE(Submit("b").ok());
  WaitWhile("a", JobState::kQueued);
  queue_->Drain(absl::Milliseconds(50));
  EXPECT_TRUE(queue_->stopped());
  EXPECT_EQ(store_->Get("a")->state, JobState::kQueued);
  EXPECT_EQ(store_->Get("a")->attempts, 0);
  EXPECT_EQ(store_->Get("b")->state, JobState::kQueued);
  EXPECT_FALSE(fs::exists(queue_->JobDir("a")));
  queue_.reset();
  StartQueue(2);
  EXPECT_EQ(WaitWhile("b", JobState::kQueued) == JobState::kRunning ? WaitWhile("b", JobState::kRunning)
                                                                      : store_->Get("b")->state,
            JobState::kSucceeded);
  EXPECT_EQ(store_->Get("a")->state, JobState::kSucceeded);
}

TEST_F(JobQueueTest, StartRemovesOutputsOfUnfinishedJobsOnly) {
  JobRecord job;
  job.job_id = "crashed";
  ASSERT_TRUE(store_->Insert(job).ok());
  ASSERT_TRUE(store_->MarkRunning("crashed", 1).ok());
  fs::create_directories(dir_ / "artifacts" / "crashed" / ".model.partial-999");
  fs::create_directories(dir_ / "artifacts" / "orphan");
  fs::create_directories(dir_ / "artifacts" / "Not-A-Job-Name");
  queue_ = std::make_unique<JobQueue>(store_.get(), SteppingRunner(1000),
                                      JobQueueOptions{dir_ / "artifacts", 1, 8, 3}, nullptr);
  // Removal happens before any worker starts, so check right after Start.
  ASSERT_TRUE(queue_->Start().ok());
  EXPECT_FALSE(fs::exists(dir_ / "artifacts" / "crashed" / ".model.partial-999"));
  EXPECT_FALSE(fs::exists(dir_ / "artifacts" / "orphan"));
  EXPECT_TRUE(fs::exists(dir_ / "artifacts" / "Not-A-Job-Name"));
  auto view = queue_->View("crashed", 0);
  ASSERT_TRUE(view.ok());
  ASSERT_FALSE(view->logs.empty());
  EXPECT_NE(view->logs.front().message.find("re-queued"), std::string::npos);
}

TEST_F(JobQueueTest, WaitForChangeWakesOnProgress) {
  StartQueue(50);
  const uint64_t before = queue_->version();
  ASSERT_TRUE(Submit("a").ok());
  EXPECT_GT(queue_->WaitForChange(before, absl::Seconds(5)), before);
  WaitWhile("a", JobState::kQueued);
  const uint64_t running = queue_->version();
  EXPECT_GT(queue_->WaitForChange(running, absl::Seconds(5)), running);
}

}  // namespace
}  // namespace transmla::server
