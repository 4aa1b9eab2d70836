// When the kernels write their output with non-temporal stores (kernels/simd/simd.hpp).
#include <algorithm>
#include <cstddef>

#include "kernels/simd/simd.hpp"
#include "mlpkit/runtime.hpp"

namespace mlpkit::detail {

bool use_streaming_stores(std::size_t bytes) {
  // Below the last-level cache the output is likely read again soon: keep it cached.
  static const std::size_t threshold = std::max<std::size_t>(cache_info().l3, std::size_t{8} << 20);
  return bytes >= threshold;
}

}  // namespace mlpkit::detail
