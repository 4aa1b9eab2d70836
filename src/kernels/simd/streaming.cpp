// When the kernels write their output with non-temporal stores (kernels/simd/simd.hpp).
#include <algorithm>
#include <cstddef>

#include "kernels/simd/simd.hpp"
#include "mlpkit/runtime.hpp"

namespace mlpkit::detail {

bool use_streaming_stores(std::size_t bytes) {
  // Below one CPU's share of the last-level cache the output is likely read again soon: keep it
  // cached. glibc's memcpy draws its line at the same share (3/4 of it, for a copy's source alone),
  // and for the same reason: the cache is shared, so a core cannot count on more of it. On a 2-vCPU
  // Ice Lake-SP guest, whose 48 MiB L3 is listed for both vCPUs, fast float sigmoid on 4 Mi floats (x
  // and y 32 MiB) ran at 0.83 of memcpy's rate cached and 1.05-1.08 streamed (tanh: 0.87 and 0.91-0.95).
  // The threshold is at least 8 MiB: a smaller output is answered without asking for the cache sizes,
  // whose first query reads sysfs through iostreams (~0.4 ms, most of a small model's first gradcheck).
  static constexpr std::size_t kFloor = std::size_t{8} << 20;
  if (bytes < kFloor) return false;
  static const std::size_t threshold = [] {
    const CacheInfo caches = cache_info();
    return std::max<std::size_t>(caches.l3 / std::max<std::size_t>(caches.l3_cpus, 1), kFloor);
  }();
  return bytes >= threshold;
}

}  // namespace mlpkit::detail
