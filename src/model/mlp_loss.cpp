// Output layer glue: the loss of an MlpConfig from the logits, and the prediction ŷ.
#include "model/mlp_loss.hpp"

#include <algorithm>

#include "kernels/activations/activations_kernels.hpp"
#include "mlpkit/activations.hpp"
#include "mlpkit/losses.hpp"
#include "mlpkit/vector.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {

template <class T>
T output_loss(const MlpConfig<T>& config, MatrixView<const T> logits, MatrixView<const T> y, MatrixView<T> dz,
              std::vector<T>& scratch) {
  switch (config.loss) {
    case Loss::binary_cross_entropy:
      return binary_cross_entropy_with_logits(logits, y, dz);
    case Loss::cross_entropy:
      return cross_entropy_with_logits(logits, y, dz);
    case Loss::mean_squared_error:
      break;
  }
  if (config.output == Activation::identity) return mean_squared_error(logits, y, dz);
  const std::size_t rows = logits.rows, m = logits.cols;
  if (scratch.size() < rows * m) scratch.resize(rows * m);
  const MatrixView<T> yhat{scratch.data(), rows, m, m};
  for (std::size_t i = 0; i < rows; ++i)
    activation_forward(config.output, config.accuracy, logits.row(i), yhat.row(i), m, config.leaky_slope);
  const T cost = mean_squared_error(MatrixView<const T>(yhat), y, dz);
  if (dz.data != nullptr)
    for (std::size_t i = 0; i < rows; ++i)
      activation_backward(config.output, logits.row(i), dz.row(i), dz.row(i), m, config.leaky_slope);
  return cost;
}

template <class T>
void output_loss_terms(const MlpConfig<T>& config, MatrixView<const T> logits, MatrixView<const T> y, T* terms,
                       std::vector<T>& scratch) {
  const std::size_t rows = logits.rows, cols = logits.cols;
  std::fill(terms, terms + cols, T(0));
  if (rows == 0 || cols == 0) return;
  if (scratch.size() < rows * cols) scratch.resize(rows * cols);
  const auto& kernels = active_activation_kernels<T>();
  switch (config.loss) {
    case Loss::binary_cross_entropy:
      // max(z, 0) − z·y + log1p(e^−|z|), as binary_cross_entropy_with_logits, a whole row per kernel call.
      for (std::size_t i = 0; i < rows; ++i) {
        const T* z = logits.row(i);
        const T* label = y.row(i);
        T* softplus = scratch.data();
        kernels.softplus_neg_abs(z, softplus, cols);
        for (std::size_t j = 0; j < cols; ++j) terms[j] += std::max(z[j], T(0)) - z[j] * label[j] + softplus[j];
      }
      return;
    case Loss::cross_entropy: {
      // −Σᵢ yᵢ log softmax(z)ᵢ per column, as cross_entropy_with_logits; a zero label adds nothing.
      const MatrixView<T> log_p{scratch.data(), rows, cols, cols};
      kernels.softmax_columns(logits.data, logits.ld, log_p.data, log_p.ld, rows, cols, true);
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j)
          if (y(i, j) != T(0)) terms[j] -= y(i, j) * log_p(i, j);
      return;
    }
    case Loss::mean_squared_error:
      break;
  }
  // ½ Σᵢ (g(z) − y)², as mean_squared_error after the output activation.
  for (std::size_t i = 0; i < rows; ++i) {
    const T* yhat = logits.row(i);
    if (config.output != Activation::identity) {
      (config.accuracy == Accuracy::fast ? kernels.forward_fast : kernels.forward)(config.output, logits.row(i), scratch.data(),
                                                                              cols, config.leaky_slope, false);
      yhat = scratch.data();
    }
    for (std::size_t j = 0; j < cols; ++j) {
      const T d = yhat[j] - y(i, j);
      terms[j] += d * d;
    }
  }
  for (std::size_t j = 0; j < cols; ++j) terms[j] *= T(0.5);
}

template <class T>
void output_activation(const MlpConfig<T>& config, MatrixView<const T> logits, MatrixView<T> out) {
  if (config.loss == Loss::cross_entropy) {
    softmax(logits, out);
    return;
  }
  for (std::size_t i = 0; i < logits.rows; ++i)
    activation_forward(config.output, config.accuracy, logits.row(i), out.row(i), logits.cols, config.leaky_slope);
}

template <class T>
T l2_term(const MlpConfig<T>& config, const T* theta, std::size_t m) {
  if (config.l2 == T(0)) return T(0);
  const auto& dims = config.dims;
  T squares = 0;
  std::size_t offset = 0;  // W1, b1, W2, b2, …
  for (std::size_t l = 1; l < dims.size(); ++l) {
    const std::size_t weights = dims[l] * dims[l - 1];
    squares += dot(theta + offset, theta + offset, weights);
    offset += weights + dims[l];
  }
  return config.l2 / (T(2) * static_cast<T>(m)) * squares;
}

template <class T>
T data_loss(const Mlp<T>& net, MatrixView<const std::type_identity_t<T>> logits,
            MatrixView<const std::type_identity_t<T>> y) {
  check_view("Mlp::data_loss", "logits", logits);
  if (logits.rows != net.config().dims.back())
    fail("Mlp::data_loss", "logits has ", logits.rows, " rows but n[L] = ", net.config().dims.back());
  std::vector<T> scratch;
  return output_loss(net.config(), logits, y, MatrixView<T>{}, scratch);
}

template <class T>
T l2_penalty(const Mlp<T>& net, std::size_t m) {
  if (m == 0) fail("Mlp::l2_penalty", "m is 0: the penalty (λ/2m)Σ‖W‖² needs at least one example");
  return l2_term(net.config(), net.parameters().data(), m);
}

template float l2_term<float>(const MlpConfig<float>&, const float*, std::size_t);
template double l2_term<double>(const MlpConfig<double>&, const double*, std::size_t);
template float data_loss<float>(const Mlp<float>&, MatrixView<const float>, MatrixView<const float>);
template double data_loss<double>(const Mlp<double>&, MatrixView<const double>, MatrixView<const double>);
template float l2_penalty<float>(const Mlp<float>&, std::size_t);
template double l2_penalty<double>(const Mlp<double>&, std::size_t);
template float output_loss<float>(const MlpConfig<float>&, MatrixView<const float>, MatrixView<const float>,
                                  MatrixView<float>, std::vector<float>&);
template double output_loss<double>(const MlpConfig<double>&, MatrixView<const double>, MatrixView<const double>,
                                    MatrixView<double>, std::vector<double>&);
template void output_loss_terms<double>(const MlpConfig<double>&, MatrixView<const double>, MatrixView<const double>,
                                        double*, std::vector<double>&);
template void output_activation<float>(const MlpConfig<float>&, MatrixView<const float>, MatrixView<float>);
template void output_activation<double>(const MlpConfig<double>&, MatrixView<const double>, MatrixView<double>);

}  // namespace mlpkit::detail
