#pragma once
// Non-temporal (streaming) stores: an output that cannot stay in the last-level cache is written
// around it, without first reading each line for ownership. Shared by the elementwise kernels.
#include <xsimd/xsimd.hpp>

#include <cstddef>
#include <type_traits>

namespace mlpkit::detail {

/**
 * Whether a call writes its output with non-temporal stores, given `bytes`, what it moves that
 * competes for the cache: only from the last-level cache's size on (at least 8 MiB), where the
 * output would be evicted before anyone read it again.
 */
bool use_streaming_stores(std::size_t bytes);

namespace simd {

/** A non-temporal store of a full batch to an address aligned to the batch's size. */
template <class Arch, class T>
inline void store_stream(T* p, const xsimd::batch<T, Arch>& v) {
  constexpr std::size_t bytes = sizeof(T) * xsimd::batch<T, Arch>::size;
  if constexpr (std::is_same_v<T, float>) {
    if constexpr (bytes == 64) _mm512_stream_ps(p, v);
    else if constexpr (bytes == 32) _mm256_stream_ps(p, v);
    else _mm_stream_ps(p, v);
  } else {
    if constexpr (bytes == 64) _mm512_stream_pd(p, v);
    else if constexpr (bytes == 32) _mm256_stream_pd(p, v);
    else _mm_stream_pd(p, v);
  }
}

}  // namespace simd
}  // namespace mlpkit::detail
