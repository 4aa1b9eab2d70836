#pragma once
/** @file
 * Level-1 vector kernels (dot, axpy, sum), dispatched to the active ISA and multithreaded for
 * long vectors. Reductions add fixed-size chunks in a fixed order, so a result is bitwise
 * identical for any thread count (it may differ between ISAs, whose SIMD widths differ).
 */
#include <cstddef>

#include "mlpkit/export.hpp"

namespace mlpkit MLPKIT_API {

/**
 * Σ x[i]·y[i] for i < n. x, y: n elements each (may be null when n = 0). Throws mlpkit::Error for
 * null with n > 0 and for n elements that no array can hold (n·sizeof(T) > PTRDIFF_MAX).
 */
template <class T>
MLPKIT_API T dot(const T* x, const T* y, std::size_t n);

/**
 * y[i] += alpha·x[i] for i < n. x, y: n elements; in place (x == y) allowed. Throws mlpkit::Error for
 * null with n > 0, for x and y overlapping other than exactly, and for n as dot does.
 */
template <class T>
MLPKIT_API void axpy(T alpha, const T* x, T* y, std::size_t n);

/** Σ x[i] for i < n. Throws mlpkit::Error for null with n > 0 and for n as dot does. */
template <class T>
MLPKIT_API T sum(const T* x, std::size_t n);

}  // namespace mlpkit
