// Server reflection (what grpcurl uses): list the services over a raw bidi stream. Debian ships
// the reflection service inside libgrpc++_reflection but no .proto for a client, and compiling
// our own copy would clash with the library's descriptors, so the two tiny messages are written
// by hand: ServerReflectionRequest{list_services = "*"} is field 7 (string).
#include "grpcpp/generic/generic_stub.h"
#include "tests/server/server_fixture.h"

namespace transmla::testing {
namespace {

grpc::ByteBuffer Bytes(const std::string& s) {
  grpc::Slice slice(s);
  return grpc::ByteBuffer(&slice, 1);
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// Runs one step of the async stream and waits for it.
bool Await(grpc::CompletionQueue* cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  return cq->Next(&got, &ok) && got == tag && ok;
}

TEST_F(ConversionServerTest, ReflectionListsTheConversionAndHealthServices) {
  StartServer();
  grpc::GenericStub stub(server_->Channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(Await(&cq, reinterpret_cast<void*>(1)));
  call->Write(Bytes(std::string("\x3a\x01*", 3)), reinterpret_cast<void*>(2));
  ASSERT_TRUE(Await(&cq, reinterpret_cast<void*>(2)));
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  ASSERT_TRUE(Await(&cq, reinterpret_cast<void*>(3)));
  const std::string bytes = Flatten(response);
  EXPECT_NE(bytes.find("transmla.v1.ConversionService"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
  call->WritesDone(reinterpret_cast<void*>(4));
  ASSERT_TRUE(Await(&cq, reinterpret_cast<void*>(4)));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  ASSERT_TRUE(Await(&cq, reinterpret_cast<void*>(5)));
  EXPECT_TRUE(status.ok()) << status.error_message();
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace transmla::testing
