#ifndef TRANSMLA_TESTS_SERVER_SERVER_FIXTURE_H_
#define TRANSMLA_TESTS_SERVER_SERVER_FIXTURE_H_

#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/server/conversion_client.h"
#include "tests/server/server_process.h"

namespace transmla::testing {

// Scratch roots for a server under test; the model root is the repository's models/ folder, so
// "stories260K" and "tinystories_val_head.txt" are valid request paths.
class ConversionServerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts (or restarts, on the same state and artifact dirs) the server.
  void StartServer(int concurrency = 1, std::vector<std::string> extra_flags = {});
  ConversionClient Client(const std::string& token = "") const { return {stub_.get(), token}; }

  // An exact-mode job on stories260K (fast: well under a second of work).
  static transmla::v1::SubmitJobRequest ExactRequest(const std::string& job_id);
  // A deepseek-mode job with calibration that takes several seconds, in layers of well under a
  // second each (so cancellation and kills land mid-job).
  static transmla::v1::SubmitJobRequest SlowRequest(const std::string& job_id);

  // Polls GetJob until the job is in `state` (or 120 s pass).
  transmla::v1::Job WaitForState(const std::string& job_id, transmla::v1::JobState state);
  // Polls GetJob until the running job has converted `layer` layers; fails the test if it ends first.
  transmla::v1::Job WaitForLayer(const std::string& job_id, int64_t layer);

  std::filesystem::path dir_, artifacts_, state_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<transmla::v1::ConversionService::Stub> stub_;
};

}  // namespace transmla::testing

#endif  // TRANSMLA_TESTS_SERVER_SERVER_FIXTURE_H_
