#pragma once
// Level-1 kernels: one table of single-threaded kernels per ISA, plus the scalar reference.
#include <cstddef>

#include "runtime/kernel_tables.hpp"

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

// vector_kernels<Arch, T>() (vector_simd.hpp), vector_kernels_ref<T>() (plain loops, double-precision
// accumulation for float) and active_vector_kernels<T>().
MLPKIT_DECLARE_KERNEL_TABLES(VectorKernels, vector);

/** Elements per chunk of a multithreaded reduction: fixed, so the sum order never depends on threads. */
inline constexpr std::size_t kReductionChunk = 4096;

}  // namespace mlpkit::detail
