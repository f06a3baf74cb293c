#include "core/util/heap_reuse.h"

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace transmla {
namespace {

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
constexpr size_t kLarge = size_t{64} << 20;  // far above glibc's mmap threshold

// Bytes the process holds in mmap'd chunks while one large buffer is alive.
size_t MappedWhileHoldingALargeBuffer() {
  void* p = std::malloc(kLarge);
  std::memset(p, 1, kLarge);
  asm volatile("" : : "g"(p) : "memory");  // or the compiler may drop the malloc / free pair
  const size_t mapped = mallinfo2().hblkhd;
  std::free(p);
  return mapped;
}

TEST(HeapReuseTest, LargeBuffersComeFromTheHeapOnlyWhileAReuseLives) {
  const size_t before = mallinfo2().hblkhd;
  EXPECT_GE(MappedWhileHoldingALargeBuffer(), before + kLarge);
  {
    HeapReuse outer;
    {
      HeapReuse inner;
      EXPECT_LT(MappedWhileHoldingALargeBuffer(), before + kLarge);
    }
    EXPECT_LT(MappedWhileHoldingALargeBuffer(), before + kLarge) << "the outer reuse still lives";
  }
  EXPECT_GE(MappedWhileHoldingALargeBuffer(), before + kLarge);
}
#else
TEST(HeapReuseTest, LargeBuffersComeFromTheHeapOnlyWhileAReuseLives) {
  GTEST_SKIP() << "glibc's allocator only (not under a sanitizer's)";
}
#endif

}  // namespace
}  // namespace transmla
