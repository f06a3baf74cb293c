#include "server/common/auth.h"

#include "gtest/gtest.h"

namespace transmla::server {
namespace {

TEST(BearerTokenAuthTest, OffWhenNoTokenIsConfigured) {
  BearerTokenAuth auth({});
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.CheckHeader(nullptr).ok());
}

TEST(BearerTokenAuthTest, AcceptsAnyConfiguredToken) {
  BearerTokenAuth auth({"alpha", "beta"});
  const std::string a = "Bearer alpha", b = "Bearer beta";
  EXPECT_TRUE(auth.CheckHeader(&a).ok());
  EXPECT_TRUE(auth.CheckHeader(&b).ok());
}

TEST(BearerTokenAuthTest, RefusesMissingMalformedAndWrongTokens) {
  BearerTokenAuth auth({"alpha"});
  const std::string wrong = "Bearer alphb", prefix_only = "Bearer ", basic = "Basic alpha", longer = "Bearer alpha2";
  for (const std::string* header : {static_cast<const std::string*>(nullptr), &wrong, &prefix_only, &basic, &longer}) {
    EXPECT_EQ(auth.CheckHeader(header).code(), absl::StatusCode::kUnauthenticated) << (header ? *header : "(none)");
  }
}

}  // namespace
}  // namespace transmla::server
