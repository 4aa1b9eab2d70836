#pragma once
/** @file
 * Loss functions of the MLP output layer, with their gradients, averaged over the m examples.
 *
 * Examples are columns: every matrix here is outputs × m (row-major, own ld). A gradient view is
 * optional: it is written only when its `data` is non-null, must then have the shape of the
 * prediction, and may be the prediction itself (exact aliasing, same ld); other overlaps throw.
 * Sums are formed in fixed-size blocks of examples combined in a fixed order, so a loss is bitwise
 * identical for any thread count.
 */
#include <string_view>

#include "mlpkit/enums.hpp"
#include "mlpkit/export.hpp"
#include "mlpkit/matrix.hpp"

namespace mlpkit MLPKIT_API {

/** The losses an Mlp can minimize. */
enum class Loss { binary_cross_entropy, cross_entropy, mean_squared_error };
template <> struct EnumTable<Loss> : EnumNames<"Loss", "binary_cross_entropy", "cross_entropy", "mean_squared_error"> {};

/** The name of `loss`: "binary_cross_entropy", "cross_entropy" or "mean_squared_error". */
std::string_view loss_name(Loss loss);

/** The Loss named `name` (as loss_name spells it); throws mlpkit::Error listing the accepted names. */
Loss parse_loss(std::string_view name);

/**
 * J = −(1/m) Σ [y·log p + (1−y)·log(1−p)] over all entries, from probabilities p ∈ [0, 1].
 * probabilities, y: r × m with the same shape. A confident wrong prediction (p = 0 where y = 1)
 * gives +Inf. Throws mlpkit::Error for mismatched shapes, m = 0, labels outside {0, 1} and
 * probabilities outside [0, 1] (NaN included).
 */
template <class T>
MLPKIT_API T binary_cross_entropy(MatrixView<const T> probabilities, MatrixView<const T> y);

/**
 * The same loss from logits z (p = σ(z)), in the stable form max(z, 0) − z·y + log1p(e^−|z|),
 * finite for any finite z. When dz.data is non-null writes dJ/dz = (σ(z) − y)/m into dz (r × m;
 * dz may be z). Throws mlpkit::Error for mismatched shapes, m = 0, labels outside {0, 1}, and
 * partial overlap of dz with z or y.
 */
template <class T>
MLPKIT_API T binary_cross_entropy_with_logits(MatrixView<const T> z, MatrixView<const T> y, MatrixView<T> dz = {});

/**
 * Categorical cross-entropy from logits: J = −(1/m) Σ_j Σ_i y(i,j)·log softmax(z)(i,j), the softmax
 * taken over each column (classes × examples) through a stable log-softmax. y holds one-hot (or
 * soft, each entry in [0, 1]) labels of the same shape. When dz.data is non-null writes
 * dJ/dz = (softmax(z) − y)/m (dz may be z). Throws mlpkit::Error for mismatched shapes, m = 0,
 * labels outside [0, 1], and partial overlap of dz with z or y.
 */
template <class T>
MLPKIT_API T cross_entropy_with_logits(MatrixView<const T> z, MatrixView<const T> y, MatrixView<T> dz = {});

/**
 * Mean squared error J = (1/(2m)) Σ ‖ŷ − y‖² over the m columns: the 1/2 makes the gradient
 * dJ/dŷ = (ŷ − y)/m, written into dyhat when dyhat.data is non-null (dyhat may be yhat).
 * yhat, y, dyhat: r × m. Throws mlpkit::Error for mismatched shapes, m = 0 and partial overlaps.
 */
template <class T>
MLPKIT_API T mean_squared_error(MatrixView<const T> yhat, MatrixView<const T> y, MatrixView<T> dyhat = {});

}  // namespace mlpkit
