#pragma once
/** @file
 * Level-1 vector kernels (dot, axpy, sum), dispatched to the active ISA and multithreaded for
 * long vectors. Reductions add fixed-size chunks in a fixed order, so a result is bitwise
 * identical for any thread count (it may differ between ISAs, whose SIMD widths differ).
 *
 * Each function takes its arrays as std::span (the library's one form of a 1-D array); the
 * earlier (pointer, n) forms remain and give the same results.
 */
#include <cstddef>
#include <span>

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

/** Σ x[i]·y[i]. Throws mlpkit::Error when x and y differ in size (naming both sizes). */
template <class T>
MLPKIT_API T dot(std::span<const T> x, std::span<const T> y);

/**
 * y[i] += alpha·x[i]. In place (x and y the same array) allowed. Throws mlpkit::Error when x and y
 * differ in size and when they overlap other than exactly.
 */
template <class T>
MLPKIT_API void axpy(T alpha, std::span<const T> x, std::span<T> y);

/** Σ x[i]. */
template <class T>
MLPKIT_API T sum(std::span<const T> x);

}  // namespace mlpkit
