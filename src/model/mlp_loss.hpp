#pragma once
// The glue between an Mlp's output layer and the loss kernels: which loss and output activation a
// configuration means, computed from the logits Z[L].
#include <cstddef>
#include <type_traits>
#include <vector>

#include "mlpkit/matrix.hpp"
#include "mlpkit/mlp.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {

/**
 * The check of x against a model of `dims` that every entry point taking a batch makes: n[0] rows
 * (examples are columns) and m ≥ 1. Throws mlpkit::Error naming `function` and the sizes.
 */
template <class T>
void check_model_input(const char* function, const std::vector<std::size_t>& dims, MatrixView<const T> x) {
  if (x.rows != dims.front())
    fail(function, "x has ", x.rows, " rows but the model has n[0] = ", dims.front(), " inputs (examples are columns)");
  if (x.cols == 0) fail(function, "x has 0 columns: m = 0, a batch needs at least one example");
}

/**
 * The data term (1/m) Σ loss(ŷ, y) from the logits Z[L] (n[L] × m), and dJ/dZ[L] into dz when
 * dz.data is non-null (n[L] × m, contiguous or not). BCE and CE go through the stable
 * from-logits kernels; MSE with a non-identity output activation evaluates ŷ = g(Z) in `scratch`
 * and chains dJ/dZ = dJ/dŷ ⊙ g'(Z).
 */
template <class T>
T output_loss(const MlpConfig<T>& config, MatrixView<const T> logits, MatrixView<const T> y, MatrixView<T> dz,
              std::vector<T>& scratch);

/**
 * The loss of each example on its own: terms[j] = Σᵢ loss(ŷᵢⱼ, yᵢⱼ) over the n[L] outputs of column j,
 * so that output_loss = (1/m)·Σⱼ terms[j] up to rounding (binary cross-entropy with one output:
 * the same terms, added in the same order). Columns are independent, so an evaluator can score
 * many perturbed copies side by side in one call. No argument checks: the caller has checked
 * shapes and labels. logits, y: n[L] × cols, any ld; terms: cols entries; scratch grows to
 * n[L]·cols. Instantiated for double (the incremental gradient checker).
 */
template <class T>
void output_loss_terms(const MlpConfig<T>& config, MatrixView<const T> logits, MatrixView<const T> y, T* terms,
                       std::vector<T>& scratch);

/**
 * The L2 term (λ/2m) Σ_l ‖W[l]‖²_F of the parameters θ (an Mlp's layout for config.dims; 0 when
 * λ = 0): what loss and forward_backward add to the data term.
 */
template <class T>
T l2_term(const MlpConfig<T>& config, const T* theta, std::size_t m);

/**
 * Test helpers: the two terms of J apart. data_loss: the data term from the output logits Z[L]
 * (n[L] × m), (1/m) Σ loss, without L2; throws mlpkit::Error for wrong shapes and bad labels.
 * l2_penalty: l2_term of net's θ; throws mlpkit::Error for m = 0. Then
 * J = data_loss(net, Z[L], y) + l2_penalty(net, m), bitwise as Mlp::loss computes it.
 */
template <class T>
T data_loss(const Mlp<T>& net, MatrixView<const std::type_identity_t<T>> logits,
            MatrixView<const std::type_identity_t<T>> y);
/** See data_loss. */
template <class T>
T l2_penalty(const Mlp<T>& net, std::size_t m);

/** ŷ from the logits: σ (BCE), softmax per column (CE) or the output activation (MSE). out: n[L] × m. */
template <class T>
void output_activation(const MlpConfig<T>& config, MatrixView<const T> logits, MatrixView<T> out);

}  // namespace mlpkit::detail
