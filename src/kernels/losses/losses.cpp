// Losses and their gradients, averaged over the examples (columns). Evaluated in double per entry
// (output layers are small), in fixed blocks of columns whose partial sums are added in block order,
// so a loss is bitwise identical for any thread count.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/activations/activations_kernels.hpp"
#include "kernels/activations/activations_scalar.hpp"
#include "mlpkit/losses.hpp"
#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit {
namespace detail {
namespace {

/** Columns per work item of a loss: fixed, so the summation order never depends on threads. */
constexpr std::size_t kLossColumnBlock = 256;

/** Checks prediction, labels and the optional gradient; returns m. */
template <class T>
std::size_t check_loss_args(const char* fn, const char* pred_name, MatrixView<const T> pred, MatrixView<const T> y,
                            const char* grad_name, MatrixView<T> grad) {
  check_view(fn, pred_name, pred);
  check_view(fn, "y", y);
  check_shape(fn, "y", y, pred.rows, pred.cols);
  if (pred.cols == 0 || pred.rows == 0)
    fail(fn, pred_name, " is ", pred.rows, " × ", pred.cols, ": a loss needs at least one output and one example");
  if (grad.data != nullptr) {
    check_view(fn, grad_name, grad);
    check_shape(fn, grad_name, grad, pred.rows, pred.cols);
    check_alias(fn, grad_name, grad, pred_name, pred);
    check_disjoint(fn, grad_name, MatrixView<const T>(grad), "y", y);
  }
  return pred.cols;
}

template <class T>
void check_labels(const char* fn, MatrixView<const T> y, bool binary) {
  for (std::size_t i = 0; i < y.rows; ++i)
    for (std::size_t j = 0; j < y.cols; ++j) {
      const T v = y(i, j);
      const bool ok = binary ? (v == T(0) || v == T(1)) : (v >= T(0) && v <= T(1));
      if (!ok) fail(fn, "y(", i, ", ", j, ") = ", v, binary ? " is not a label in {0, 1}" : " is not in [0, 1]");
    }
}

/** Σ over column blocks of block_sum(j0, j1), added in block order. */
template <class BlockSum>
double blocked_sum(std::size_t cols, double work_per_column, BlockSum&& block_sum) {
  const std::size_t blocks = (cols + kLossColumnBlock - 1) / kLossColumnBlock;
  if (blocks == 1) return block_sum(std::size_t{0}, cols);  // the common case: no partials, no threads
  std::vector<double> partial(blocks);
  parallel_for(blocks, work_per_column * static_cast<double>(kLossColumnBlock), [&](std::size_t b) {
    const std::size_t j0 = b * kLossColumnBlock;
    partial[b] = block_sum(j0, std::min(cols, j0 + kLossColumnBlock));
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

/**
 * A loss: scale · (Σ over column blocks of block_sum) · (1/m), rounded to T once. The 1/m is the
 * caller's inv_m, computed alike; scale 1 leaves the product as it is, bit for bit.
 */
template <class T, class BlockSum>
T mean_over_columns(std::size_t m, double work_per_column, BlockSum&& block_sum, double scale = 1.0) {
  const double total = blocked_sum(m, work_per_column, std::forward<BlockSum>(block_sum));
  return static_cast<T>(scale * total * (1.0 / static_cast<double>(m)));
}

}  // namespace
}  // namespace detail

std::string_view loss_name(Loss loss) { return detail::enum_name("loss_name", "loss", loss); }

Loss parse_loss(std::string_view name) {
  if (const auto loss = detail::find_enum<Loss>(name)) return *loss;
  detail::fail("parse_loss", "name \"", name, "\" is not a loss (accepted: ", detail::enum_names_list<Loss>(), ")");
}

template <class T>
T binary_cross_entropy(MatrixView<const T> probabilities, MatrixView<const T> y) {
  constexpr const char* fn = "binary_cross_entropy";
  const std::size_t m = detail::check_loss_args(fn, "probabilities", probabilities, y, "", MatrixView<T>{});
  detail::check_labels(fn, y, true);
  for (std::size_t i = 0; i < probabilities.rows; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      const T p = probabilities(i, j);
      if (!(p >= T(0) && p <= T(1))) detail::fail(fn, "probabilities(", i, ", ", j, ") = ", p, " is not in [0, 1]");
    }
  const double total = detail::blocked_sum(m, 20.0 * double(y.rows), [&](std::size_t j0, std::size_t j1) {
    double s = 0;
    for (std::size_t i = 0; i < y.rows; ++i)
      for (std::size_t j = j0; j < j1; ++j) {
        const double p = probabilities(i, j);
        // Exact labels pick one term, so 0·log 0 never turns into NaN.
        s -= y(i, j) == T(1) ? std::log(p) : std::log1p(-p);
      }
    return s;
  });
  return static_cast<T>(total / static_cast<double>(m));
}

template <class T>
T binary_cross_entropy_with_logits(MatrixView<const T> z, MatrixView<const T> y, MatrixView<T> dz) {
  constexpr const char* fn = "binary_cross_entropy_with_logits";
  const std::size_t m = detail::check_loss_args(fn, "z", z, y, "dz", dz);
  detail::check_labels(fn, y, true);
  const double inv_m = 1.0 / static_cast<double>(m);
  const auto& kernels = detail::active_activation_kernels<double>();
  return detail::mean_over_columns<T>(m, 40.0 * double(z.rows), [&](std::size_t j0, std::size_t j1) {
    // log1p(e^−|z|) a piece of a row at a time, by the SIMD kernel, in double for either T.
    constexpr std::size_t kPiece = 64;
    double z_piece[kPiece], softplus[kPiece];
    double s = 0;
    for (std::size_t i = 0; i < z.rows; ++i)
      for (std::size_t p0 = j0; p0 < j1; p0 += kPiece) {
        const std::size_t count = std::min(kPiece, j1 - p0);
        const double* zs = z_piece;
        if constexpr (std::is_same_v<T, double>) zs = z.row(i) + p0;
        else std::copy(z.row(i) + p0, z.row(i) + p0 + count, z_piece);
        kernels.softplus_neg_abs(zs, softplus, count);
        for (std::size_t t = 0; t < count; ++t) {
          const double zv = zs[t], yv = y(i, p0 + t);
          // −[y log σ(z) + (1−y) log(1−σ(z))] = max(z, 0) − z·y + log1p(e^−|z|): finite for any finite z.
          s += std::max(zv, 0.0) - zv * yv + softplus[t];
          if (dz.data != nullptr) dz(i, p0 + t) = static_cast<T>((detail::scalar::sigmoid(zv) - yv) * inv_m);
        }
      }
    return s;
  });
}

template <class T>
T cross_entropy_with_logits(MatrixView<const T> z, MatrixView<const T> y, MatrixView<T> dz) {
  constexpr const char* fn = "cross_entropy_with_logits";
  const std::size_t m = detail::check_loss_args(fn, "z", z, y, "dz", dz);
  detail::check_labels(fn, y, false);
  const double inv_m = 1.0 / static_cast<double>(m);
  return detail::mean_over_columns<T>(m, 40.0 * double(z.rows), [&](std::size_t j0, std::size_t j1) {
    double s = 0;
    for (std::size_t j = j0; j < j1; ++j) {
      // log softmax(z)_i = z_i − max − log Σ e^{z_k − max}: every exponent is ≤ 0.
      double max = -std::numeric_limits<double>::infinity();
      for (std::size_t i = 0; i < z.rows; ++i) max = std::max(max, static_cast<double>(z(i, j)));
      double sum_exp = 0;
      for (std::size_t i = 0; i < z.rows; ++i) sum_exp += std::exp(static_cast<double>(z(i, j)) - max);
      const double log_sum = std::log(sum_exp);
      for (std::size_t i = 0; i < z.rows; ++i) {
        const double log_p = static_cast<double>(z(i, j)) - max - log_sum;
        const double yv = y(i, j);
        if (yv != 0.0) s -= yv * log_p;  // a zero label contributes nothing, even where log p = −Inf
        if (dz.data != nullptr) dz(i, j) = static_cast<T>((std::exp(log_p) - yv) * inv_m);
      }
    }
    return s;
  });
}

template <class T>
T mean_squared_error(MatrixView<const T> yhat, MatrixView<const T> y, MatrixView<T> dyhat) {
  constexpr const char* fn = "mean_squared_error";
  const std::size_t m = detail::check_loss_args(fn, "yhat", yhat, y, "dyhat", dyhat);
  const double inv_m = 1.0 / static_cast<double>(m);
  const auto sum_of_squares = [&](std::size_t j0, std::size_t j1) {
    // Eight running sums (column j feeds sum j mod 8), combined in a fixed order: one chain of
    // dependent adds would cost an add latency per element, as much as the forward GEMM at width 256.
    // The lanes are updated eight columns at a time (one vector of sums), in the same order as
    // column by column, so the result does not depend on how the loop is compiled.
    constexpr std::size_t kLanes = 8;
    double lane[kLanes] = {};
    const std::size_t full = j0 + (j1 - j0) / kLanes * kLanes;
    for (std::size_t i = 0; i < y.rows; ++i) {
      const T* p = yhat.row(i);
      const T* t = y.row(i);
      T* g = dyhat.data != nullptr ? dyhat.row(i) : nullptr;
      for (std::size_t j = j0; j < full; j += kLanes) {
        double d[kLanes];
#pragma GCC unroll 8
        for (std::size_t k = 0; k < kLanes; ++k) d[k] = static_cast<double>(p[j + k]) - static_cast<double>(t[j + k]);
#pragma GCC unroll 8
        for (std::size_t k = 0; k < kLanes; ++k) lane[k] += d[k] * d[k];
        if (g != nullptr)
#pragma GCC unroll 8
          for (std::size_t k = 0; k < kLanes; ++k) g[j + k] = static_cast<T>(d[k] * inv_m);
      }
      for (std::size_t j = full; j < j1; ++j) {
        const double d = static_cast<double>(p[j]) - static_cast<double>(t[j]);
        lane[j - full] += d * d;
        if (g != nullptr) g[j] = static_cast<T>(d * inv_m);
      }
    }
    double s = 0;
    for (double v : lane) s += v;
    return s;
  };
  return detail::mean_over_columns<T>(m, 4.0 * double(y.rows), sum_of_squares, 0.5);
}

#define MLPKIT_INSTANTIATE_LOSSES(T)                                                                  \
  template T binary_cross_entropy<T>(MatrixView<const T>, MatrixView<const T>);                     \
  template T binary_cross_entropy_with_logits<T>(MatrixView<const T>, MatrixView<const T>, MatrixView<T>); \
  template T cross_entropy_with_logits<T>(MatrixView<const T>, MatrixView<const T>, MatrixView<T>); \
  template T mean_squared_error<T>(MatrixView<const T>, MatrixView<const T>, MatrixView<T>);
MLPKIT_INSTANTIATE_LOSSES(float)
MLPKIT_INSTANTIATE_LOSSES(double)
#undef MLPKIT_INSTANTIATE_LOSSES

}  // namespace mlpkit
