// A 64-bit fingerprint of a byte range, for caches that must notice when the bytes behind the
// same name and address have changed. Not cryptographic.
#ifndef TRANSMLA_CORE_UTIL_FINGERPRINT_H_
#define TRANSMLA_CORE_UTIL_FINGERPRINT_H_

#include <cstddef>
#include <cstdint>

namespace transmla {

// Reads every byte once, on all cores for large ranges (memory speed).
uint64_t Fingerprint(const uint8_t* data, size_t size);

}  // namespace transmla

#endif  // TRANSMLA_CORE_UTIL_FINGERPRINT_H_
