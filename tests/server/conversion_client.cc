#include "tests/server/conversion_client.h"

#include "gtest/gtest.h"

namespace transmla::testing {

namespace v1 = transmla::v1;

void ConversionClient::Prepare(grpc::ClientContext* context, double deadline_s) const {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(deadline_s * 1000)));
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
}

grpc::Status ConversionClient::Submit(const v1::SubmitJobRequest& request, v1::Job* job) const {
  grpc::ClientContext context;
  Prepare(&context);
  return stub->SubmitJob(&context, request, job);
}

grpc::Status ConversionClient::Get(const std::string& job_id, v1::Job* job) const {
  grpc::ClientContext context;
  Prepare(&context);
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  return stub->GetJob(&context, request, job);
}

grpc::Status ConversionClient::Cancel(const std::string& job_id, v1::Job* job) const {
  grpc::ClientContext context;
  Prepare(&context);
  v1::CancelJobRequest request;
  request.set_job_id(job_id);
  return stub->CancelJob(&context, request, job);
}

grpc::Status ConversionClient::Watch(const std::string& job_id, std::vector<v1::JobEvent>* events,
                                     double deadline_s) const {
  grpc::ClientContext context;
  Prepare(&context, deadline_s);
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  auto reader = stub->WatchJob(&context, request);
  v1::JobEvent event;
  while (reader->Read(&event)) events->push_back(event);
  return reader->Finish();
}

grpc::Status ConversionClient::Artifacts(const std::string& job_id, v1::ListArtifactsResponse* response) const {
  grpc::ClientContext context;
  Prepare(&context);
  v1::ListArtifactsRequest request;
  request.set_job_id(job_id);
  return stub->ListArtifacts(&context, request, response);
}

grpc::Status ConversionClient::Read(const std::string& job_id, const std::string& path, int64_t offset, int64_t limit,
                                    std::string* data) const {
  grpc::ClientContext context;
  Prepare(&context);
  v1::ReadArtifactRequest request;
  request.set_job_id(job_id);
  request.set_path(path);
  request.set_read_offset(offset);
  request.set_read_limit(limit);
  auto reader = stub->ReadArtifact(&context, request);
  v1::ArtifactChunk chunk;
  while (reader->Read(&chunk)) {
    EXPECT_EQ(chunk.offset(), offset + static_cast<int64_t>(data->size())) << path;
    EXPECT_LE(chunk.data().size(), size_t{1} << 20);
    data->append(chunk.data());
  }
  return reader->Finish();
}

}  // namespace transmla::testing
