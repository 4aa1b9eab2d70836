#pragma once
// Level-1 kernels written once against xsimd and compiled per ISA (see isa/<isa>.cpp).
// Everything here is a template over the arch tag, so no symbol is shared between ISA objects.
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "kernels/vector/vector_kernels.hpp"

namespace mlpkit::detail::simd {

// Four independent accumulators hide the FMA latency; the tail is handled one element at a time.
template <class Arch, class T>
T dot(const T* x, const T* y, std::size_t n) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t w = batch::size;
  batch acc0(T(0)), acc1(T(0)), acc2(T(0)), acc3(T(0));
  std::size_t i = 0;
  for (; i + 4 * w <= n; i += 4 * w) {
    acc0 = xsimd::fma(batch::load_unaligned(x + i), batch::load_unaligned(y + i), acc0);
    acc1 = xsimd::fma(batch::load_unaligned(x + i + w), batch::load_unaligned(y + i + w), acc1);
    acc2 = xsimd::fma(batch::load_unaligned(x + i + 2 * w), batch::load_unaligned(y + i + 2 * w), acc2);
    acc3 = xsimd::fma(batch::load_unaligned(x + i + 3 * w), batch::load_unaligned(y + i + 3 * w), acc3);
  }
  for (; i + w <= n; i += w) acc0 = xsimd::fma(batch::load_unaligned(x + i), batch::load_unaligned(y + i), acc0);
  T result = xsimd::hadd((acc0 + acc1) + (acc2 + acc3));
  for (; i < n; ++i) result += x[i] * y[i];
  return result;
}

template <class Arch, class T>
void axpy(T alpha, const T* x, T* y, std::size_t n) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t w = batch::size;
  const batch a(alpha);
  std::size_t i = 0;
  for (; i + w <= n; i += w) xsimd::fma(a, batch::load_unaligned(x + i), batch::load_unaligned(y + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] += alpha * x[i];
}

template <class Arch, class T>
T sum(const T* x, std::size_t n) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t w = batch::size;
  batch acc0(T(0)), acc1(T(0));
  std::size_t i = 0;
  for (; i + 2 * w <= n; i += 2 * w) {
    acc0 += batch::load_unaligned(x + i);
    acc1 += batch::load_unaligned(x + i + w);
  }
  for (; i + w <= n; i += w) acc0 += batch::load_unaligned(x + i);
  T result = xsimd::hadd(acc0 + acc1);
  for (; i < n; ++i) result += x[i];
  return result;
}

// AVX-512: the mask of lanes p[j] > 0 among the first lanes of `tail` (a low bit mask), by a masked
// load, so nothing past them is read. Templated on Arch, as every kernel here, to stay per-ISA.
template <class Arch, class T>
unsigned positive_lanes(const T* p, unsigned tail) {
  if constexpr (std::is_same_v<T, float>)
    return _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(static_cast<__mmask16>(tail), p), _mm512_setzero_ps(), _CMP_GT_OQ);
  else
    return _mm512_cmp_pd_mask(_mm512_maskz_loadu_pd(static_cast<__mmask8>(tail), p), _mm512_setzero_pd(), _CMP_GT_OQ);
}

// Stops at the first vector with a difference: a caller scanning a large block learns of a kink early.
template <class Arch, class T>
bool signs_differ(const T* x, const T* y, std::size_t rows, std::size_t cols, std::size_t ld) {
  using batch = xsimd::batch<T, Arch>;
  constexpr std::size_t w = batch::size;
  const batch zero(T(0)), one(T(1));
  for (std::size_t r = 0; r < rows; ++r, x += ld, y += ld) {
    std::size_t i = 0;
    // xsimd 8.1 gets mask != mask wrong on sse2 (it compares float masks as floats, and a true mask
    // is a NaN) and mask ^ mask on avx512 (an or): AVX-512 xors its mask registers directly,
    // the others turn the masks into 0/1 values first.
    for (; i + w <= cols; i += w) {
      const auto x_positive = batch::load_unaligned(x + i) > zero, y_positive = batch::load_unaligned(y + i) > zero;
      if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
        if ((x_positive.data ^ y_positive.data) != 0) return true;
      } else {
        if (xsimd::any(xsimd::select(x_positive, one, zero) != xsimd::select(y_positive, one, zero))) return true;
      }
    }
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
      // The tail by masked loads: masked-off lanes read nothing and compare as 0 > 0, false.
      if (i < cols) {
        const unsigned tail = (1U << (cols - i)) - 1;
        if (positive_lanes<Arch>(x + i, tail) != positive_lanes<Arch>(y + i, tail)) return true;
      }
    } else {
      for (; i < cols; ++i)
        if ((x[i] > T(0)) != (y[i] > T(0))) return true;
    }
  }
  return false;
}

}  // namespace mlpkit::detail::simd

namespace mlpkit::detail {

template <class Arch, class T>
const VectorKernels<T>& vector_kernels() {
  static_assert(Arch::supported(), "compile this ISA's source with its flags (cmake/MlpkitCompileOptions.cmake)");
  static constexpr VectorKernels<T> table{&simd::dot<Arch, T>, &simd::axpy<Arch, T>, &simd::sum<Arch, T>,
                                          &simd::signs_differ<Arch, T>};
  return table;
}

}  // namespace mlpkit::detail
