#pragma once
// Helpers shared by the Mlp tests: loss/output combinations, random matrices, labels a loss accepts.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

namespace mlpkit::test {


// Output activation and width that fit each loss; MSE is also checked behind a non-identity output.
struct LossCase {
  const char* name;
  Loss loss;
  Activation output;
  std::size_t outputs;
  bool multi_label;
};
inline const LossCase kLossCases[] = {
    {"bce", Loss::binary_cross_entropy, Activation::sigmoid, 1, false},
    {"bce_multi_label", Loss::binary_cross_entropy, Activation::sigmoid, 3, true},
    {"cross_entropy", Loss::cross_entropy, Activation::identity, 3, false},
    {"mse", Loss::mean_squared_error, Activation::identity, 2, false},
    {"mse_tanh_output", Loss::mean_squared_error, Activation::tanh, 2, false},
};
/** Every hidden activation, from the enum's table: a new activation is tested without a change here. */
inline constexpr auto kHidden = enum_values<Activation>();

template <class T>
MlpConfig<T> make_config(const LossCase& c, Activation hidden, std::vector<std::size_t> dims) {
  MlpConfig<T> config;
  dims.push_back(c.outputs);
  config.dims = dims;
  config.hidden = hidden;
  config.output = c.output;
  config.loss = c.loss;
  config.multi_label = c.multi_label;
  config.init = Init::xavier;
  config.seed = 42;
  config.leaky_slope = T(0.1);
  return config;
}

/** A network of loss case `c` with dropout and L2, its dropout masks those of training step `step`. */
template <class T>
Mlp<T> with_dropout(const LossCase& c, Activation hidden, std::vector<std::size_t> dims, T keep_prob, T l2,
                    std::uint64_t step) {
  MlpConfig<T> config = make_config<T>(c, hidden, std::move(dims));
  config.keep_prob = keep_prob;
  config.l2 = l2;
  Mlp<T> net(config);
  net.set_step(step);
  return net;
}

/** A binary classifier of `dims`: tanh hidden layers, Xavier initialization, L2 `l2`, the sigmoid + BCE output. */
template <class T>
MlpConfig<T> tanh_classifier(std::vector<std::size_t> dims, T l2, std::uint64_t seed) {
  MlpConfig<T> config;
  config.dims = std::move(dims);
  config.hidden = Activation::tanh;
  config.init = Init::xavier;
  config.l2 = l2;
  config.seed = seed;
  return config;
}

/** Adam at `learning_rate` over mini-batches of `batch_size`, for `epochs` epochs. */
inline TrainOptions adam(double learning_rate, std::size_t epochs, std::size_t batch_size) {
  TrainOptions options;
  options.optimizer = Optimizer::adam;
  options.learning_rate = learning_rate;
  options.epochs = epochs;
  options.batch_size = batch_size;
  return options;
}

/** A small regression model, 3 inputs, 4 hidden units and 2 outputs (MSE on an identity output), for checks of shapes and arguments. */
inline MlpConfig<double> small_regression_config() {
  MlpConfig<double> config;
  config.dims = {3, 4, 2};
  config.loss = Loss::mean_squared_error;
  config.output = Activation::identity;
  return config;
}

template <class T>
Matrix<T> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed, double lo = -1, double hi = 1) {
  Matrix<T> out(rows, cols);
  const auto values = test::uniform<T>(rows * cols, seed, lo, hi);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) out(i, j) = values[i * cols + j];
  return out;
}

// Labels the loss accepts: 0/1 for BCE, one-hot columns for CE, anything for MSE.
template <class T>
Matrix<T> labels_for(Loss loss, std::size_t rows, std::size_t m, std::uint64_t seed) {
  Matrix<T> y = random_matrix<T>(rows, m, seed, 0, 1);
  for (std::size_t j = 0; j < m; ++j) {
    if (loss == Loss::cross_entropy) {
      std::size_t hot = 0;
      for (std::size_t i = 0; i < rows; ++i)
        if (y(i, j) > y(hot, j)) hot = i;
      for (std::size_t i = 0; i < rows; ++i) y(i, j) = i == hot ? T(1) : T(0);
    } else if (loss == Loss::binary_cross_entropy) {
      for (std::size_t i = 0; i < rows; ++i) y(i, j) = y(i, j) < T(0.5) ? T(0) : T(1);
    }
  }
  return y;
}

/** An Mlp, a batch of data its loss accepts, and the gradient its forward_backward gives there (as double). */
template <class T>
struct NetworkCase {
  Mlp<T> net;
  Matrix<T> x, y;
  std::vector<double> gradient;
};

/** The network of `config` (of loss case `loss`) on m examples: x uniform in ±1.5 from x_seed, labels from y_seed. */
template <class T>
NetworkCase<T> network_case(const MlpConfig<T>& config, const LossCase& loss, std::size_t m, std::uint64_t x_seed,
                            std::uint64_t y_seed) {
  NetworkCase<T> n{Mlp<T>(config), random_matrix<T>(config.dims.front(), m, x_seed, -1.5, 1.5),
                   labels_for<T>(loss.loss, loss.outputs, m, y_seed), {}};
  Mlp<T> copy = n.net;
  copy.forward_backward(n.x.view(), n.y.view());
  n.gradient.assign(copy.gradients().begin(), copy.gradients().end());
  return n;
}

/** The slice of θ that holds tensor `name` ("W1", "b2", …) of `net` (fails the test when there is none). */
template <class T>
TensorInfo layout_entry(const Mlp<T>& net, const std::string& name) {
  for (const TensorInfo& t : net.tensors())
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  return {};
}

}  // namespace mlpkit::test
