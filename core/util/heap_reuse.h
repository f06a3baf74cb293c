// A conversion allocates and frees the same large buffers many times per layer: a block's float32
// weights for each of its calibration runs, activations, moments. glibc serves every allocation
// above its mmap threshold with fresh pages that the kernel faults in and zeroes again, and returns
// them on free. While a HeapReuse lives, freed memory stays in the heap for the next allocation;
// the end of the last HeapReuse hands it back to the system. That holds for the main thread's
// arena; other threads' arenas still map chunks over 64 MB (glibc's heap size) each time. Around
// each layer of a conversion on the CLI's main thread (1-layer 8B-wide, 8 x 64 tokens, 2 cores):
// CPU block runs 24-25 -> 15-17 s, the layer 54-57 -> 45 s. Elsewhere than glibc it does nothing.
#ifndef TRANSMLA_CORE_UTIL_HEAP_REUSE_H_
#define TRANSMLA_CORE_UTIL_HEAP_REUSE_H_

namespace transmla {

class HeapReuse {
 public:
  HeapReuse();
  ~HeapReuse();
  HeapReuse(const HeapReuse&) = delete;
  HeapReuse& operator=(const HeapReuse&) = delete;
};

}  // namespace transmla

#endif  // TRANSMLA_CORE_UTIL_HEAP_REUSE_H_
