#ifndef TRANSMLA_TESTS_SERVER_INFERENCE_FIXTURE_H_
#define TRANSMLA_TESTS_SERVER_INFERENCE_FIXTURE_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/server_process.h"
#include "transmla/v1/inference_service.grpc.pb.h"

namespace transmla::testing {

// A real transmla-inference-server over a copy of the bundled "stories260K" plus a
// slow random model ("serving-test", ~30M parameters, made once per test binary) so that tests
// can cancel or unload mid-generation.
class InferenceServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  void SetUp() override;

  // Starts the server with `--load` for each NAME=PATH and waits until they are READY.
  void StartServer(const std::vector<std::string>& loads, std::vector<std::string> extra_flags = {});
  // Polls GetModel until READY (or FAILED, which fails the test).
  void WaitReady(const std::string& name);
  transmla::v1::GenerateRequest Request(const std::string& model, const std::string& prompt, int max_tokens) const;
  std::string Metrics() const { return HttpGet(server_->metrics_port(), "/metrics"); }

  static std::filesystem::path model_root_;  // holds stories260K and serving-test
  std::filesystem::path dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<transmla::v1::InferenceService::Stub> stub_;
};

}  // namespace transmla::testing

#endif  // TRANSMLA_TESTS_SERVER_INFERENCE_FIXTURE_H_
