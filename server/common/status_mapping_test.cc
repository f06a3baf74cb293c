#include "server/common/status_mapping.h"

#include "gtest/gtest.h"

namespace transmla::server {
namespace {

TEST(StatusMappingTest, CarriesEveryCanonicalCodeAndTheMessage) {
  const std::pair<absl::Status, grpc::StatusCode> cases[] = {
      {absl::InvalidArgumentError("options.alpha must be > 0"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::NotFoundError("job x"), grpc::StatusCode::NOT_FOUND},
      {absl::AlreadyExistsError("a"), grpc::StatusCode::ALREADY_EXISTS},
      {absl::PermissionDeniedError("p"), grpc::StatusCode::PERMISSION_DENIED},
      {absl::FailedPreconditionError("f"), grpc::StatusCode::FAILED_PRECONDITION},
      {absl::ResourceExhaustedError("r"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::UnavailableError("u"), grpc::StatusCode::UNAVAILABLE},
      {absl::CancelledError("c"), grpc::StatusCode::CANCELLED},
      {absl::DeadlineExceededError("d"), grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::OutOfRangeError("o"), grpc::StatusCode::OUT_OF_RANGE},
      {absl::UnauthenticatedError("t"), grpc::StatusCode::UNAUTHENTICATED},
      {absl::InternalError("i"), grpc::StatusCode::INTERNAL},
  };
  for (const auto& [in, code] : cases) {
    const grpc::Status out = ToGrpcStatus(in);
    EXPECT_EQ(out.error_code(), code) << in;
    EXPECT_EQ(out.error_message(), std::string(in.message()));
    EXPECT_EQ(FromGrpcStatus(out), in);
  }
}

TEST(StatusMappingTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace transmla::server
