// When the kernels write their output with non-temporal stores (kernels/simd/simd.hpp).
#include <algorithm>
#include <cstddef>

#include "kernels/simd/simd.hpp"
#include "mlpkit/runtime.hpp"

namespace mlpkit::detail {

bool use_streaming_stores(std::size_t bytes) {
  // Below the last-level cache the output is likely read again soon: keep it cached. The threshold
  // is at least 8 MiB: a smaller output is answered without asking for the cache sizes, whose first
  // query reads sysfs through iostreams (~0.4 ms, most of a small model's first gradcheck).
  constexpr std::size_t kFloor = std::size_t{8} << 20;
  if (bytes < kFloor) return false;
  static const std::size_t threshold = std::max<std::size_t>(cache_info().l3, kFloor);
  return bytes >= threshold;
}

}  // namespace mlpkit::detail
