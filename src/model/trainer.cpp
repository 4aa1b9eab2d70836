// The small trainer: (mini-)batch gradient descent with momentum or Adam, reproducible shuffles.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mlpkit/train.hpp"
#include "model/mlp_loss.hpp"
#include "model/random.hpp"
#include "runtime/checks.hpp"

namespace mlpkit {

namespace {

void validate_options(const TrainOptions& o) {
  const char* fn = "train";
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
    detail::fail(fn, "options.learning_rate (", o.learning_rate, ") must be finite and > 0");
  if (o.epochs == 0) detail::fail(fn, "options.epochs is 0: train at least one epoch");
  if (!(o.beta1 >= 0 && o.beta1 < 1)) detail::fail(fn, "options.beta1 (", o.beta1, ") must be in [0, 1)");
  if (!(o.beta2 >= 0 && o.beta2 < 1)) detail::fail(fn, "options.beta2 (", o.beta2, ") must be in [0, 1)");
  if (!(o.epsilon > 0) || !std::isfinite(o.epsilon)) detail::fail(fn, "options.epsilon (", o.epsilon, ") must be finite and > 0");
  if (!(o.decay >= 0) || !std::isfinite(o.decay)) detail::fail(fn, "options.decay (", o.decay, ") must be finite and ≥ 0");
  detail::check_enum(fn, "options.optimizer", o.optimizer);
}

// Fisher–Yates with counter-based draws: the permutation is a pure function of (seed, epoch).
void shuffle_order(std::vector<std::size_t>& order, std::uint64_t seed, std::uint64_t epoch) {
  std::iota(order.begin(), order.end(), std::size_t{0});
  const detail::PhiloxKey key = detail::derived_key(seed, epoch, 0, detail::RandomDomain::shuffle);
  for (std::size_t i = order.size(); i-- > 1;) {
    const detail::PhiloxCounter w = detail::philox4x32(
        key, {detail::low32(i), detail::high32(i), 0, static_cast<std::uint32_t>(detail::RandomDomain::shuffle)});
    auto j = static_cast<std::size_t>(detail::uniform53(w[0], w[1]) * static_cast<double>(i + 1));
    if (j > i) j = i;  // guards the rounding of u·(i+1) for u just below 1
    std::swap(order[i], order[j]);
  }
}

// Copies the columns order[begin … begin+count) of src into the first count columns of dst.
template <class T>
MatrixView<const T> gather_columns(MatrixView<const T> src, const std::vector<std::size_t>& order, std::size_t begin,
                                   std::size_t count, Matrix<T>& dst) {
  for (std::size_t i = 0; i < src.rows; ++i) {
    const T* from = src.row(i);
    T* to = dst.data() + i * dst.ld();
    for (std::size_t j = 0; j < count; ++j) to[j] = from[order[begin + j]];
  }
  return {dst.data(), src.rows, count, dst.ld()};
}

}  // namespace

std::string_view optimizer_name(Optimizer optimizer) {
  return detail::enum_name("optimizer_name", "optimizer", optimizer);
}

Optimizer parse_optimizer(std::string_view name) {
  if (const auto optimizer = detail::find_enum<Optimizer>(name)) return *optimizer;
  detail::fail("parse_optimizer", "unknown optimizer '", name, "' (accepted: ", detail::enum_names_list<Optimizer>(),
               ")");
}

namespace {

// The shapes of x and y, and that neither lies in θ or dθ, which every update writes while the
// next batches of x and y are still to be read.
template <class T>
void check_train_input(const Mlp<T>& net, MatrixView<const T> x, MatrixView<const T> y) {
  const auto& dims = net.config().dims;
  detail::check_view("train", "x", x);
  detail::check_view("train", "y", y);
  detail::check_model_input("train", dims, x);
  detail::check_shape("train", "y", y, dims.back(), x.cols);
  const auto parameters = net.parameters();
  const auto gradients = net.gradients();
  for (const auto& [name, data] : {std::pair{"x", x}, std::pair{"y", y}}) {
    detail::check_disjoint("train", name, data, "the model's parameters",
                           detail::array_view(parameters.data(), parameters.size()));
    detail::check_disjoint("train", name, data, "the model's gradients",
                           detail::array_view(gradients.data(), gradients.size()));
  }
}

// The optimizer's state (momentum's velocity, Adam's moments and bias corrections) and its update
// θ −= rate·step(dθ).
template <class T>
class OptimizerState {
 public:
  OptimizerState(const TrainOptions& options, std::size_t n)
      : options_(options),
        velocity_(options.optimizer == Optimizer::gradient_descent ? 0 : n, T(0)),
        second_moment_(options.optimizer == Optimizer::adam ? n : 0, T(0)) {}

  void update(std::span<T> theta, std::span<const T> grad, T rate) {
    const std::size_t n = theta.size();
    const auto beta1 = static_cast<T>(options_.beta1), beta2 = static_cast<T>(options_.beta2);
    switch (options_.optimizer) {
      case Optimizer::gradient_descent:
        for (std::size_t i = 0; i < n; ++i) theta[i] -= rate * grad[i];
        break;
      case Optimizer::momentum:
        for (std::size_t i = 0; i < n; ++i) {
          velocity_[i] = beta1 * velocity_[i] + (T(1) - beta1) * grad[i];
          theta[i] -= rate * velocity_[i];
        }
        break;
      case Optimizer::adam: {
        beta1_power_ *= options_.beta1;
        beta2_power_ *= options_.beta2;
        const auto correction1 = static_cast<T>(1.0 - beta1_power_), correction2 = static_cast<T>(1.0 - beta2_power_);
        const auto epsilon = static_cast<T>(options_.epsilon);
        for (std::size_t i = 0; i < n; ++i) {
          velocity_[i] = beta1 * velocity_[i] + (T(1) - beta1) * grad[i];
          second_moment_[i] = beta2 * second_moment_[i] + (T(1) - beta2) * grad[i] * grad[i];
          const T corrected_v = velocity_[i] / correction1, corrected_s = second_moment_[i] / correction2;
          theta[i] -= rate * corrected_v / (std::sqrt(corrected_s) + epsilon);
        }
        break;
      }
    }
  }

 private:
  const TrainOptions& options_;
  std::vector<T> velocity_, second_moment_;
  double beta1_power_ = 1, beta2_power_ = 1;
};

}  // namespace

template <class T>
TrainResult train(Mlp<T>& net, std::type_identity_t<MatrixView<const T>> x, std::type_identity_t<MatrixView<const T>> y,
                  const TrainOptions& options) {
  validate_options(options);
  check_train_input(net, x, y);

  const std::size_t m = x.cols;
  const std::size_t batch = options.batch_size == 0 || options.batch_size >= m ? m : options.batch_size;
  const std::size_t batches = (m + batch - 1) / batch;
  const bool shuffled = options.shuffle && batches > 1;
  std::vector<std::size_t> order(shuffled ? m : 0);
  Matrix<T> x_batch, y_batch;
  if (shuffled) {
    x_batch = Matrix<T>(x.rows, batch);
    y_batch = Matrix<T>(y.rows, batch);
  }

  OptimizerState<T> optimizer(options, net.parameter_count());

  TrainResult result;
  const std::uint64_t first_step = net.step();
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    if (shuffled) shuffle_order(order, options.seed, epoch);
    const auto rate = static_cast<T>(options.learning_rate / (1.0 + options.decay * static_cast<double>(epoch)));
    double epoch_sum = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      const std::size_t begin = b * batch, count = std::min(batch, m - begin);
      const MatrixView<const T> xb = shuffled ? gather_columns(x, order, begin, count, x_batch)
                                              : MatrixView<const T>{x.data + begin, x.rows, count, x.ld};
      const MatrixView<const T> yb = shuffled ? gather_columns(y, order, begin, count, y_batch)
                                              : MatrixView<const T>{y.data + begin, y.rows, count, y.ld};
      net.set_step(first_step + result.iterations);
      const T cost = net.forward_backward(xb, yb);
      if (!std::isfinite(static_cast<double>(cost)))
        detail::fail("train", "the loss became ", static_cast<double>(cost), " in epoch ", epoch, ", iteration ",
                     result.iterations, ": training diverged (try a lower learning_rate, now ", options.learning_rate, ")");
      result.iteration_loss.push_back(static_cast<double>(cost));
      epoch_sum += static_cast<double>(cost) * static_cast<double>(count);
      ++result.iterations;

      optimizer.update(net.parameters(), net.gradients(), rate);
    }
    result.epoch_loss.push_back(epoch_sum / static_cast<double>(m));
    if (options.on_epoch) options.on_epoch(epoch + 1, result.epoch_loss.back());
  }
  net.set_step(first_step + result.iterations);
  return result;
}

template TrainResult train<float>(Mlp<float>&, MatrixView<const float>, MatrixView<const float>, const TrainOptions&);
template TrainResult train<double>(Mlp<double>&, MatrixView<const double>, MatrixView<const double>, const TrainOptions&);

}  // namespace mlpkit
