#include "core/util/heap_reuse.h"

#include <climits>

#include "absl/synchronization/mutex.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace transmla {
namespace {

absl::Mutex users_mutex(absl::kConstInit);
int users ABSL_GUARDED_BY(users_mutex) = 0;

// glibc's defaults (mallopt(3)): 65536 mmap'd chunks at most, trim above 128 KiB free at the top.
constexpr int kDefaultMmapMax = 65536;
constexpr int kDefaultTrimThreshold = 128 * 1024;

}  // namespace

HeapReuse::HeapReuse() {
  absl::MutexLock lock(&users_mutex);
  if (users++ > 0) return;
#ifdef __GLIBC__
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

HeapReuse::~HeapReuse() {
  absl::MutexLock lock(&users_mutex);
  if (--users > 0) return;
#ifdef __GLIBC__
  mallopt(M_MMAP_MAX, kDefaultMmapMax);
  mallopt(M_TRIM_THRESHOLD, kDefaultTrimThreshold);
  malloc_trim(0);
#endif
}

}  // namespace transmla
