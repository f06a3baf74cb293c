#include "server/common/file_digest.h"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "fmt/format.h"

namespace transmla::server {
namespace {

constexpr size_t kBlockBytes = size_t{1} << 20;

struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextDeleter>;

std::string Hex(const unsigned char* bytes, unsigned int n) {
  std::string out;
  out.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) out += fmt::format("{:02x}", bytes[i]);
  return out;
}

DigestContext StartSha256() {
  DigestContext ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  return ctx;
}

std::string Finish(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, digest, &n);
  return Hex(digest, n);
}

}  // namespace

absl::StatusOr<std::string> Sha256OfFile(const std::filesystem::path& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) return absl::NotFoundError(fmt::format("cannot open {}", path.string()));
  DigestContext ctx = StartSha256();
  std::vector<char> block(kBlockBytes);
  while (true) {
    const size_t n = std::fread(block.data(), 1, block.size(), file.get());
    if (n > 0) EVP_DigestUpdate(ctx.get(), block.data(), n);
    if (n < block.size()) break;
  }
  if (std::ferror(file.get())) return absl::DataLossError(fmt::format("read error in {}", path.string()));
  return Finish(ctx.get());
}

std::string Sha256OfBytes(std::string_view bytes) {
  DigestContext ctx = StartSha256();
  EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size());
  return Finish(ctx.get());
}

}  // namespace transmla::server
