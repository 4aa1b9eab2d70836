#pragma once
// AVX-512 masked loads and stores of the GEMM kernels (the small kernel's last columns, the skinny
// kernel's rows of C and short operand): lane i is read or written only where bit i of the mask is
// set. Templates over the arch tag, so no symbol is shared between ISA objects.
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/gemm/gemm_microkernel.hpp"

namespace mlpkit::detail::gemm_simd {

/** One lane bit per element of an AVX-512 vector of T. */
template <class T>
using LaneMask = std::conditional_t<sizeof(T) == 4, __mmask16, __mmask8>;

// Lane i of the result is p[i] where bit i of `mask` is set, zero elsewhere (nothing else read).
template <class Arch, class T>
[[gnu::always_inline]] inline Batch<Arch, T> masked_load(const T* p, LaneMask<T> mask) {
  if constexpr (std::is_same_v<T, float>)
    return _mm512_maskz_loadu_ps(mask, p);
  else
    return _mm512_maskz_loadu_pd(mask, p);
}

// Lane i of the result is p[i] where bit i of `mask` is set, lane i of `rest` elsewhere.
template <class Arch, class T>
[[gnu::always_inline]] inline Batch<Arch, T> masked_load_over(const Batch<Arch, T>& rest, const T* p, LaneMask<T> mask) {
  if constexpr (std::is_same_v<T, float>)
    return _mm512_mask_loadu_ps(rest, mask, p);
  else
    return _mm512_mask_loadu_pd(rest, mask, p);
}

// p[i] = lane i of v where bit i of `mask` is set (nothing else written).
template <class Arch, class T>
[[gnu::always_inline]] inline void masked_store(T* p, LaneMask<T> mask, const Batch<Arch, T>& v) {
  if constexpr (std::is_same_v<T, float>)
    _mm512_mask_storeu_ps(p, mask, v);
  else
    _mm512_mask_storeu_pd(p, mask, v);
}

// Whether lane i of a vector can be addressed as p[i·stride] by a 32-bit scatter index.
template <class T>
constexpr bool scatter_reaches(std::size_t stride) {
  return stride <= std::size_t(INT32_MAX) / (64 / sizeof(T));
}

// p[i·stride] = lane i of v where bit i of `mask` is set (nothing else written), by one scatter
// (scatter_reaches(stride) must hold).
template <class Arch, class T>
[[gnu::always_inline]] inline void masked_scatter(T* p, std::size_t stride, LaneMask<T> mask, const Batch<Arch, T>& v) {
  const auto s = static_cast<int>(stride);
  if constexpr (std::is_same_v<T, float>) {
    const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(s));
    _mm512_mask_i32scatter_ps(p, mask, index, v, 4);
  } else {
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(s));
    _mm512_mask_i32scatter_pd(p, mask, index, v, 8);
  }
}

}  // namespace mlpkit::detail::gemm_simd
