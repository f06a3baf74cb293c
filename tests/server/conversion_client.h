#ifndef TRANSMLA_TESTS_SERVER_CONVERSION_CLIENT_H_
#define TRANSMLA_TESTS_SERVER_CONVERSION_CLIENT_H_

#include <chrono>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "transmla/v1/conversion_service.grpc.pb.h"

namespace transmla::testing {

// Small synchronous client calls for the end-to-end tests (each a real RPC).
struct ConversionClient {
  transmla::v1::ConversionService::Stub* stub;
  std::string token;  // sent as "authorization: Bearer <token>" when not empty

  void Prepare(grpc::ClientContext* context, double deadline_s = 120) const;
  grpc::Status Submit(const transmla::v1::SubmitJobRequest& request, transmla::v1::Job* job) const;
  grpc::Status Get(const std::string& job_id, transmla::v1::Job* job) const;
  grpc::Status Cancel(const std::string& job_id, transmla::v1::Job* job) const;
  // Reads the whole watch stream (until the server ends it or the deadline passes).
  grpc::Status Watch(const std::string& job_id, std::vector<transmla::v1::JobEvent>* events, double deadline_s = 300) const;
  grpc::Status Artifacts(const std::string& job_id, transmla::v1::ListArtifactsResponse* response) const;
  // Reads [offset, offset+limit) of an artifact, checking chunk offsets and sizes as it goes.
  grpc::Status Read(const std::string& job_id, const std::string& path, int64_t offset, int64_t limit,
                    std::string* data) const;
};

}  // namespace transmla::testing

#endif  // TRANSMLA_TESTS_SERVER_CONVERSION_CLIENT_H_
