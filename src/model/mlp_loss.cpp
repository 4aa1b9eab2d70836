// Output layer glue: the loss of an MlpConfig from the logits, and the prediction ŷ.
#include "model/mlp_loss.hpp"

#include "mlpkit/activations.hpp"
#include "mlpkit/losses.hpp"
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
    activation_forward(config.output, logits.row(i), yhat.row(i), m, config.leaky_slope);
  const T cost = mean_squared_error(MatrixView<const T>(yhat), y, dz);
  if (dz.data != nullptr)
    for (std::size_t i = 0; i < rows; ++i)
      activation_backward(config.output, logits.row(i), dz.row(i), dz.row(i), m, config.leaky_slope);
  return cost;
}

template <class T>
void output_activation(const MlpConfig<T>& config, MatrixView<const T> logits, MatrixView<T> out) {
  if (config.loss == Loss::cross_entropy) {
    softmax(logits, out);
    return;
  }
  for (std::size_t i = 0; i < logits.rows; ++i)
    activation_forward(config.output, logits.row(i), out.row(i), logits.cols, config.leaky_slope);
}

template float output_loss<float>(const MlpConfig<float>&, MatrixView<const float>, MatrixView<const float>,
                                  MatrixView<float>, std::vector<float>&);
template double output_loss<double>(const MlpConfig<double>&, MatrixView<const double>, MatrixView<const double>,
                                    MatrixView<double>, std::vector<double>&);
template void output_activation<float>(const MlpConfig<float>&, MatrixView<const float>, MatrixView<float>);
template void output_activation<double>(const MlpConfig<double>&, MatrixView<const double>, MatrixView<double>);

}  // namespace mlpkit::detail
