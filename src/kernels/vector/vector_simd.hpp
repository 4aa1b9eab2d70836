#pragma once
// Level-1 kernels written once against xsimd and compiled per ISA (see isa/<isa>.cpp).
// Everything here is a template over the arch tag, so no symbol is shared between ISA objects.
#include <xsimd/xsimd.hpp>

#include "kernels/simd/simd.hpp"
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
    acc0 = ops::fmadd(batch::load_unaligned(x + i), batch::load_unaligned(y + i), acc0);
    acc1 = ops::fmadd(batch::load_unaligned(x + i + w), batch::load_unaligned(y + i + w), acc1);
    acc2 = ops::fmadd(batch::load_unaligned(x + i + 2 * w), batch::load_unaligned(y + i + 2 * w), acc2);
    acc3 = ops::fmadd(batch::load_unaligned(x + i + 3 * w), batch::load_unaligned(y + i + 3 * w), acc3);
  }
  for (; i + w <= n; i += w) acc0 = ops::fmadd(batch::load_unaligned(x + i), batch::load_unaligned(y + i), acc0);
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
  for (; i + w <= n; i += w) ops::fmadd(a, batch::load_unaligned(x + i), batch::load_unaligned(y + i)).store_unaligned(y + i);
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
      if constexpr (ops::is_avx512<Arch>) {
        if ((x_positive.data ^ y_positive.data) != 0) return true;
      } else {
        if (xsimd::any(xsimd::select(x_positive, one, zero) != xsimd::select(y_positive, one, zero))) return true;
      }
    }
    if constexpr (ops::is_avx512<Arch>) {
      // The tail by masked loads: masked-off lanes read nothing and compare as 0 > 0, false.
      if (i < cols) {
        const auto x_positive = ops::load_tail<Arch>(x + i, cols - i) > zero;
        const auto y_positive = ops::load_tail<Arch>(y + i, cols - i) > zero;
        if (x_positive.data != y_positive.data) return true;
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
