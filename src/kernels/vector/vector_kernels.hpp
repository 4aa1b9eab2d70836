#pragma once
// Level-1 kernels: one table of single-threaded kernels per ISA, plus the scalar reference.
#include <cstddef>

namespace mlpkit::detail {

/** Single-threaded level-1 kernels of one ISA (or the scalar reference). */
template <class T>
struct VectorKernels {
  T (*dot)(const T* x, const T* y, std::size_t n);
  void (*axpy)(T alpha, const T* x, T* y, std::size_t n);
  T (*sum)(const T* x, std::size_t n);
  /**
   * Whether some (i, j) has (x[i·ld + j] > 0) != (y[i·ld + j] > 0) over rows × cols: a sign change
   * between two evaluations (NaN counts as not > 0).
   */
  bool (*signs_differ)(const T* x, const T* y, std::size_t rows, std::size_t cols, std::size_t ld);
};

/** The kernels compiled for xsimd arch `Arch`; defined in vector_simd.hpp, instantiated in isa/<isa>.cpp. */
template <class Arch, class T>
const VectorKernels<T>& vector_kernels();

/** The scalar reference kernels (plain loops, double-precision accumulation for float). */
template <class T>
const VectorKernels<T>& vector_kernels_ref();

/** The kernels of current_isa(). */
template <class T>
const VectorKernels<T>& active_vector_kernels();

/** Elements per chunk of a multithreaded reduction: fixed, so the sum order never depends on threads. */
inline constexpr std::size_t kReductionChunk = 4096;

}  // namespace mlpkit::detail
