#pragma once
// Which path gemm_blocked gives a product, as predicates shared with gemm's route to the small
// kernel (gemm.cpp), and the operands and epilogue both hand the kernels: the route takes exactly
// the products the driver would give that kernel, in the same form, so the choice never changes a
// result. Baseline code only: no ISA object includes this header.
#include <algorithm>
#include <cstddef>

#include "kernels/gemm/gemm_kernels.hpp"
#include "runtime/threads.hpp"

namespace mlpkit::detail {

// parallel_for's work unit is scalar work (its cut-off is ~10 µs of a scalar loop); the micro-kernel
// does ~25 flops per scalar step, so flops are scaled down before they are compared with it.
constexpr double kFlopsPerWorkUnit = 25.0;

// Most m·n·k that the direct path would run on one thread whatever the team: half of parallel_for's
// cut-off in the units above, since its items count padded tiles (100³ was split over 2 threads).
constexpr double kSingleThreadWork = kMinWorkPerThread * kFlopsPerWorkUnit / 2.0;

/**
 * Whether the skinny kernel takes an m × n × k product (k > 0) by its shape: C of at most
 * skinny_max columns or rows, or, for op(A) = Aᵀ (`a_axpy`: A's rows along m, its columns strided)
 * above skinny_axpy_min_work, of at most skinny_axpy_max columns. `columns`: whether it computes C's
 * columns (else Cᵀ).
 */
inline bool skinny_shape(const GemmBlocking& bl, bool a_axpy, std::size_t m, std::size_t n, std::size_t k,
                         bool& columns) {
  constexpr std::size_t max_short = SkinnyProblem<float>::max_short;
  static_assert(max_short == SkinnyProblem<double>::max_short);
  const std::size_t limit = std::min(bl.skinny_max, max_short);
  // Aᵀ·B (the axpy form on A) up to skinny_axpy_max columns above skinny_axpy_min_work (at most
  // small_max_work: beyond it the small kernel does not run).
  const bool axpy_wide = a_axpy && double(m) * double(n) * double(k) > double(bl.skinny_axpy_min_work);
  const std::size_t wide = axpy_wide ? std::min(bl.skinny_axpy_max, max_short) : limit;
  columns = (n <= limit && (m >= n || m > limit)) || (n <= wide && m > wide);
  return k > 0 && (columns || m <= limit);
}

/**
 * Whether the small kernel takes an m × n × k product by its size: the ISA has one, and the work is
 * at most small_max_work, and beyond kSingleThreadWork only for a team of one (below it parallel_for
 * would not have woken a thread either).
 */
template <class T>
bool small_size(const GemmKernels<T>& kernels, std::size_t m, std::size_t n, std::size_t k) {
  const double work = double(m) * double(n) * double(k);
  return kernels.small_kernel != nullptr && k <= kernels.blocking.direct_max_k &&
         work <= double(kernels.blocking.small_max_work) && !(work > kSingleThreadWork && team_size() > 1);
}

/** op(X) of a row-major X (rows ld apart) as a strided operand: X itself, or Xᵀ. */
template <class T>
StridedOperand<T> op_operand(const T* x, std::size_t ld, Trans t) {
  return t == Trans::no ? StridedOperand<T>{x, ld, 1} : StridedOperand<T>{x, 1, ld};
}

/** Whether `epilogue` does anything: a bias, an activation or a pre-activation copy. */
template <class T>
bool fuses(const Epilogue<T>& epilogue) {
  return epilogue.bias != nullptr || epilogue.activation != Activation::identity ||
         epilogue.pre_activation.data != nullptr;
}

/** `epilogue` over the whole of C, in the tile kernels' form. */
template <class T>
GemmTileEpilogue<T> tile_epilogue(const Epilogue<T>& epilogue) {
  return {epilogue.bias,
          epilogue.activation,
          epilogue.leaky_slope,
          epilogue.pre_activation.data,
          epilogue.pre_activation.ld,
          epilogue.accuracy};
}

}  // namespace mlpkit::detail
