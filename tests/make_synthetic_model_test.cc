// make_synthetic_model draws value k of a checkpoint from draws 4k..4k+3 of one seekable splitmix64
// stream: the same bytes whatever the thread count and chunking, and the same as the sequential
// generator that made every benchmark model before it went parallel (fingerprints recorded from it).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/util/fingerprint.h"
#include "gtest/gtest.h"
#include "tests/testing/run_command.h"
#include "tests/testing/test_paths.h"

namespace transmla {
namespace {

struct Checkpoint {
  std::vector<std::string> flags;
  uint64_t fingerprint;
  size_t bytes;
};

TEST(MakeSyntheticModelTest, SameBytesForAnyThreadsAndChunksAsTheSequentialGenerator) {
  const std::filesystem::path dir = testing::MakeTempDir("synthetic");
  for (const Checkpoint& c : {Checkpoint{{}, 0x6cf6395585ea63f4ull, 249496},
                              Checkpoint{{"--dtype", "f32", "--seed", "3"}, 0x1ba66da892955b65ull, 496920}}) {
    for (const auto& [threads, chunk] : {std::pair<std::string, std::string>{"1", "16777216"}, {"2", "777"}}) {
      SCOPED_TRACE(::testing::Message() << "threads " << threads << ", chunks of " << chunk << " values, flags "
                                        << ::testing::PrintToString(c.flags));
      std::vector<std::string> argv = {"/usr/bin/env", "OMP_NUM_THREADS=" + threads,
                                       testing::MakeSyntheticModelBinary().string(), "--preset", "tiny", "--out",
                                       (dir / "model").string(), "--chunk-values", chunk, "--force"};
      argv.insert(argv.end(), c.flags.begin(), c.flags.end());
      const testing::CommandResult run = testing::RunCommand(argv);
      ASSERT_EQ(run.exit_code, 0) << run.err;
      std::ifstream file(dir / "model" / "model-00001-of-00001.safetensors", std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      EXPECT_EQ(bytes.size(), c.bytes);
      EXPECT_EQ(Fingerprint(bytes.data(), bytes.size()), c.fingerprint);
    }
  }
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace transmla
