#ifndef TRANSMLA_SERVER_INFERENCE_INFERENCE_SERVICE_H_
#define TRANSMLA_SERVER_INFERENCE_INFERENCE_SERVICE_H_

#include <atomic>
#include <functional>
#include <string>

#include "server/common/auth.h"
#include "server/inference/inference_metrics.h"
#include "server/inference/model_registry.h"
#include "transmla/v1/inference_service.grpc.pb.h"

namespace transmla::server {

// The InferenceService over a ModelRegistry. Every method checks the bearer token, logs its
// outcome with the request id, and translates its Status to gRPC in one place (Done).
class InferenceServiceImpl final : public transmla::v1::InferenceService::Service {
 public:
  InferenceServiceImpl(ModelRegistry* registry, const BearerTokenAuth* auth, InferenceMetrics* metrics)
      : registry_(registry), auth_(auth), metrics_(metrics) {}

  // SIGTERM: new work is refused with UNAVAILABLE; work already admitted continues.
  void StartDraining() { draining_.store(true); }

  grpc::Status LoadModel(grpc::ServerContext* context, const transmla::v1::LoadModelRequest* request,
                         transmla::v1::Model* response) override;
  grpc::Status UnloadModel(grpc::ServerContext* context, const transmla::v1::UnloadModelRequest* request,
                           transmla::v1::UnloadModelResponse* response) override;
  grpc::Status ListModels(grpc::ServerContext* context, const transmla::v1::ListModelsRequest* request,
                          transmla::v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context, const transmla::v1::GetModelRequest* request,
                        transmla::v1::Model* response) override;
  grpc::Status Generate(grpc::ServerContext* context, const transmla::v1::GenerateRequest* request,
                        transmla::v1::GenerateResponse* response) override;
  grpc::Status GenerateStream(grpc::ServerContext* context, const transmla::v1::GenerateRequest* request,
                              grpc::ServerWriter<transmla::v1::GenerateChunk>* writer) override;
  grpc::Status Perplexity(grpc::ServerContext* context, const transmla::v1::PerplexityRequest* request,
                          transmla::v1::PerplexityResponse* response) override;
  grpc::Status Benchmark(grpc::ServerContext* context, const transmla::v1::BenchmarkRequest* request,
                         grpc::ServerWriter<transmla::v1::BenchmarkEvent>* writer) override;

 private:
  grpc::Status Done(const char* method, const std::string& request_id, const std::string& model,
                    const absl::Status& status);
  absl::Status CheckCall(grpc::ServerContext* context) const;
  // Runs one generation through the model's serving loop; `emit` gets each chunk as it becomes
  // final (return false when the client is gone). Cancels the request on client cancel/deadline.
  absl::StatusOr<GenerationResult> RunGeneration(grpc::ServerContext* context,
                                                 const transmla::v1::GenerateRequest& request,
                                                 const std::function<bool(const GenerationChunk&)>& emit);
  absl::Status RunPerplexity(const transmla::v1::PerplexityRequest& request, transmla::v1::PerplexityResponse* out);
  absl::Status RunBenchmark(grpc::ServerContext* context, const transmla::v1::BenchmarkRequest& request,
                            grpc::ServerWriter<transmla::v1::BenchmarkEvent>* writer);

  ModelRegistry* registry_;
  const BearerTokenAuth* auth_;
  InferenceMetrics* metrics_;
  std::atomic<bool> draining_{false};
};

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_INFERENCE_INFERENCE_SERVICE_H_
