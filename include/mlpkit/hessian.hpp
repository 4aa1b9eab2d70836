#pragma once
/** @file
 * Second order: the exact Hessian–vector product of an Mlp's training objective, by Pearlmutter's
 * R-operator (the directional derivative along v of the forward and the backward pass).
 */
#include <span>

#include "mlpkit/export.hpp"
#include "mlpkit/matrix.hpp"
#include "mlpkit/mlp.hpp"

namespace mlpkit MLPKIT_API {

/**
 * H·v, with H = ∇²J(θ) the Hessian of the objective that Mlp::forward_backward differentiates
 * (data term and L2 term (λ/2m)Σ‖W[l]‖², the dropout masks of the model's current step held fixed,
 * as the gradient holds them), into hv; returns J(θ). One pass forward and one backward, each with
 * its R-pass beside it: about twice the cost of forward_backward, never H itself.
 *
 * ReLU and leaky ReLU count as piecewise linear (second derivative 0, first derivative that of
 * forward_backward at 0). Activations evaluate in the model's accuracy tier, their first and second
 * derivatives in precise form. v and hv: θ's layout (Mlp::tensors()), parameter_count() entries;
 * gradient, when non-empty, receives dθ of the same pass (forward_backward's up to rounding).
 * x: n[0] × m, y: n[L] × m. Deterministic: the same bits for any thread count.
 * Throws mlpkit::Error for shapes that do not match the model, m = 0, v, hv or gradient of another
 * size than parameter_count(), a non-finite entry of v (naming it), and labels the loss rejects.
 */
template <class T>
MLPKIT_API T hessian_vector_product(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y, std::span<const T> v,
                         std::span<T> hv, std::span<T> gradient = {});

#ifndef MLPKIT_DOXYGEN  // explicit instantiations in the library, not part of the reference
extern template float hessian_vector_product<float>(const Mlp<float>&, MatrixView<const float>,
                                                    MatrixView<const float>, std::span<const float>,
                                                    std::span<float>, std::span<float>);
extern template double hessian_vector_product<double>(const Mlp<double>&, MatrixView<const double>,
                                                      MatrixView<const double>, std::span<const double>,
                                                      std::span<double>, std::span<double>);
#endif

}  // namespace mlpkit
