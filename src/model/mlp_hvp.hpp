#pragma once
// The R-operator behind hessian_vector_product, with deliberate faults for the tests of check_hvp
// (a second-order term left out of one layer), which must name the layer they spoil.
#include <cstddef>
#include <span>
#include <vector>

#include "mlpkit/hessian.hpp"

namespace mlpkit::detail {

/** Terms of the R-operator to leave out (layer numbers 1-based; 0: none). Tests only. */
struct HvpFault {
  /** Leaves g''(Z[l])·R(Z[l]) out of R(dZ[l]) of hidden layer l: layers 1 … l come out wrong. */
  std::size_t drop_curvature_layer = 0;
  /** Leaves (λ/m)·V[l] out of (H·v) for W[l]: only W[l] comes out wrong (by −(λ/m)·v). */
  std::size_t drop_l2_layer = 0;
  /** The gradient's dZ[l] of hidden layer l from g'(A[l]) (before dropout) instead of g'(Z[l]). */
  std::size_t derivative_at_output_layer = 0;
};

/** hessian_vector_product with the terms `fault` names left out. */
template <class T>
T hessian_vector_product_with(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y, std::span<const T> v,
                              std::span<T> hv, std::span<T> gradient, const HvpFault& fault);

/**
 * dθ by the R-operator's own backward pass (with `fault`'s gradient terms planted) into gradient,
 * and dZ[l] of each layer (index l = 1 … L, n[l] × m row-major; [0] empty). Throws as
 * hessian_vector_product.
 */
template <class T>
std::vector<std::vector<T>> backward_with(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y,
                                          std::span<T> gradient, const HvpFault& fault);

}  // namespace mlpkit::detail
