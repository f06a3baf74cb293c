#ifndef TRANSMLA_SERVER_CONVERSION_CONVERSION_SERVICE_H_
#define TRANSMLA_SERVER_CONVERSION_CONVERSION_SERVICE_H_

#include "server/common/auth.h"
#include "server/common/metrics.h"
#include "server/common/path_guard.h"
#include "server/conversion/job_queue.h"
#include "server/conversion/job_store.h"
#include "transmla/v1/conversion_service.grpc.pb.h"

namespace transmla::server {

// transmla.v1.ConversionService over a JobQueue. Every method checks the bearer token first,
// validates its fields (errors name them), and logs its outcome with the request id (the
// caller's "x-request-id" metadata, or one made up) and the job id. Codes: see the .proto.
class ConversionServiceImpl final : public transmla::v1::ConversionService::Service {
 public:
  // Everything passed must outlive the service.
  ConversionServiceImpl(JobQueue* queue, JobStore* store, const PathGuard* models, const BearerTokenAuth* auth,
                        ConversionMetrics* metrics)
      : queue_(queue), store_(store), models_(models), auth_(auth), metrics_(metrics) {}

  grpc::Status SubmitJob(grpc::ServerContext* context, const transmla::v1::SubmitJobRequest* request,
                         transmla::v1::Job* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const transmla::v1::WatchJobRequest* request,
                        grpc::ServerWriter<transmla::v1::JobEvent>* writer) override;
  grpc::Status GetJob(grpc::ServerContext* context, const transmla::v1::GetJobRequest* request,
                      transmla::v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const transmla::v1::ListJobsRequest* request,
                        transmla::v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const transmla::v1::CancelJobRequest* request,
                         transmla::v1::Job* response) override;
  grpc::Status DeleteJob(grpc::ServerContext* context, const transmla::v1::DeleteJobRequest* request,
                         transmla::v1::DeleteJobResponse* response) override;
  grpc::Status ListArtifacts(grpc::ServerContext* context, const transmla::v1::ListArtifactsRequest* request,
                             transmla::v1::ListArtifactsResponse* response) override;
  grpc::Status ReadArtifact(grpc::ServerContext* context, const transmla::v1::ReadArtifactRequest* request,
                            grpc::ServerWriter<transmla::v1::ArtifactChunk>* writer) override;

 private:
  absl::Status Submit(const transmla::v1::SubmitJobRequest& request, transmla::v1::Job* response);
  absl::Status Watch(grpc::ServerContext* context, const std::string& job_id,
                     grpc::ServerWriter<transmla::v1::JobEvent>* writer);
  absl::Status List(const transmla::v1::ListJobsRequest& request, transmla::v1::ListJobsResponse* response);
  absl::Status Read(grpc::ServerContext* context, const transmla::v1::ReadArtifactRequest& request,
                    grpc::ServerWriter<transmla::v1::ArtifactChunk>* writer);
  // The existing job when `request` repeats it; AlreadyExists when the id holds another request.
  absl::Status MatchExisting(const transmla::v1::SubmitJobRequest& request, transmla::v1::Job* response);
  absl::StatusOr<transmla::v1::Job> CurrentJob(const std::string& job_id, bool with_report);
  // Logs the outcome, counts errors, and maps the status (the only exit of every method).
  grpc::Status Done(const char* method, const std::string& request_id, const std::string& job_id,
                    const absl::Status& status);

  JobQueue* const queue_;
  JobStore* const store_;
  const PathGuard* const models_;
  const BearerTokenAuth* const auth_;
  ConversionMetrics* const metrics_;
};

}  // namespace transmla::server

#endif  // TRANSMLA_SERVER_CONVERSION_CONVERSION_SERVICE_H_
