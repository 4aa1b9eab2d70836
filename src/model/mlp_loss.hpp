#pragma once
// The glue between an Mlp's output layer and the loss kernels: which loss and output activation a
// configuration means, computed from the logits Z[L].
#include <vector>

#include "mlpkit/matrix.hpp"
#include "mlpkit/mlp.hpp"

namespace mlpkit::detail {

/**
 * The data term (1/m) Σ loss(ŷ, y) from the logits Z[L] (n[L] × m), and dJ/dZ[L] into dz when
 * dz.data is non-null (n[L] × m, contiguous or not). BCE and CE go through the stable
 * from-logits kernels; MSE with a non-identity output activation evaluates ŷ = g(Z) in `scratch`
 * and chains dJ/dZ = dJ/dŷ ⊙ g'(Z).
 */
template <class T>
T output_loss(const MlpConfig<T>& config, MatrixView<const T> logits, MatrixView<const T> y, MatrixView<T> dz,
              std::vector<T>& scratch);

/** ŷ from the logits: σ (BCE), softmax per column (CE) or the output activation (MSE). out: n[L] × m. */
template <class T>
void output_activation(const MlpConfig<T>& config, MatrixView<const T> logits, MatrixView<T> out);

}  // namespace mlpkit::detail
