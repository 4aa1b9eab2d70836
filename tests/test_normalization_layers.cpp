#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "kernels/normalization/normalization_kernels.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

template <class T>
constexpr double tol() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

template <class T>
Matrix<T> random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed, double lo = -1, double hi = 1,
                        std::size_t extra_ld = 3) {
  Matrix<T> a(rows, cols, cols + extra_ld);
  const auto v = test::uniform<T>(rows * cols, seed, lo, hi);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) a(i, j) = v[i * cols + j];
  return a;
}

template <class T>
bool same_bits(const Matrix<T>& a, const Matrix<T>& b) {
  for (std::size_t i = 0; i < a.rows(); ++i)
    if (std::memcmp(&a(i, 0), &b(i, 0), a.cols() * sizeof(T)) != 0) return false;
  return true;
}

using test::same_bits;

bool close(double actual, double expected, double tolerance, double scale = 1.0) {
  return std::abs(actual - expected) <= tolerance * (scale + std::abs(expected));
}

// Central differences of L = Σ w ⊙ forward(x, γ, β) with respect to each entry of `param`.
std::vector<double> numeric_gradient(std::vector<double>& param, const std::function<double()>& loss) {
  std::vector<double> g(param.size());
  for (std::size_t k = 0; k < param.size(); ++k) {
    const double saved = param[k], h = 1e-6 * (1 + std::abs(saved));
    param[k] = saved + h;
    const double up = loss();
    param[k] = saved - h;
    const double down = loss();
    param[k] = saved;
    g[k] = (up - down) / (2 * h);
  }
  return g;
}

/**
 * Checks a backward pass against central differences of L = Σ w ⊙ y with y = forward(), which reads
 * x, gamma and beta in place and refreshes the cache that backward(dx, dγ, dβ) then uses (with dy = w).
 */
void check_against_finite_differences(
    Matrix<double>& x, std::vector<double>& gamma, std::vector<double>& beta, const Matrix<double>& w,
    const std::function<const Matrix<double>&()>& forward,
    const std::function<void(MatrixView<double>, std::span<double>, std::span<double>)>& backward) {
  const std::size_t n = x.rows(), m = x.cols();
  const auto loss = [&]() {
    const Matrix<double>& y = forward();
    double l = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j) l += w(i, j) * y(i, j);
    return l;
  };
  std::vector<double> xs(n * m);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) xs[i * m + j] = x(i, j);
  const auto loss_of_x = [&]() {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j) x(i, j) = xs[i * m + j];
    return loss();
  };
  const auto numeric_dx = numeric_gradient(xs, loss_of_x);
  loss_of_x();  // x back to xs: the last perturbation is still in x
  const auto numeric_dgamma = numeric_gradient(gamma, loss);
  const auto numeric_dbeta = numeric_gradient(beta, loss);
  loss_of_x();  // the cache of the unperturbed x, γ, β for backward
  Matrix<double> dx(n, m);
  std::vector<double> dgamma(n), dbeta(n);
  backward(dx.view(), dgamma, dbeta);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(close(dgamma[i], numeric_dgamma[i], 1e-6));
    CHECK(close(dbeta[i], numeric_dbeta[i], 1e-6));
    for (std::size_t j = 0; j < m; ++j) REQUIRE(close(dx(i, j), numeric_dx[i * m + j], 1e-6));
  }
}

}  // namespace

TEST_CASE_TEMPLATE("normalization kernels match the scalar reference under every ISA at awkward sizes", T, float, double) {
  const auto& ref = detail::normalization_kernels_ref<T>();
  test::for_each_isa([&](Isa) {
    const auto& k = detail::active_normalization_kernels<T>();
    for (std::size_t n : test::awkward_sizes()) {
      CAPTURE(n);
      auto x_storage = test::uniform<T>(n + 1, 10 + n, 999.0, 1001.0);
      auto dy_storage = test::uniform<T>(n + 2, 20 + n);
      const T* x = x_storage.data() + 1;  // odd offsets: unaligned loads
      const T* dy = dy_storage.data() + 2;
      const auto m = k.moments(x, n), mr = ref.moments(x, n);
      CHECK(m.count == mr.count);
      CHECK(close(m.mean, mr.mean, 1e-13));
      CHECK(close(m.m2, mr.m2, 1e-9, 1e-300));
      const T mean = static_cast<T>(mr.mean);
      const double scale = double(n) + 1;
      T sums[2], sums_ref[2];
      k.backward_sums(x, dy, n, mean, sums);
      ref.backward_sums(x, dy, n, mean, sums_ref);
      CHECK(close(double(sums[0]), double(sums_ref[0]), tol<T>(), scale));
      CHECK(close(double(sums[1]), double(sums_ref[1]), tol<T>(), scale));
      for (bool stream : {false, true}) {
        std::vector<T> y(n + 1), y_ref(n + 1);
        k.affine(x, n, mean, T(0.125), T(0.75), T(-2), y.data() + 1, stream);
        ref.affine(x, n, mean, T(0.125), T(0.75), T(-2), y_ref.data() + 1, false);
        for (std::size_t j = 0; j <= n; ++j) REQUIRE(close(double(y[j]), double(y_ref[j]), tol<T>()));
      }
      std::vector<T> dx(n), dx_ref(n);
      k.backward_apply(x, dy, n, mean, T(1.5), T(-0.25), T(0.5), dx.data());
      ref.backward_apply(x, dy, n, mean, T(1.5), T(-0.25), T(0.5), dx_ref.data());
      for (std::size_t j = 0; j < n; ++j) REQUIRE(close(double(dx[j]), double(dx_ref[j]), tol<T>()));
    }
  });
}

TEST_CASE_TEMPLATE("layer norm block kernels match the scalar reference under every ISA at awkward shapes", T, float, double) {
  const auto& ref = detail::normalization_kernels_ref<T>();
  test::for_each_isa([&](Isa) {
    const auto& k = detail::active_normalization_kernels<T>();
    for (std::size_t rows : {1, 2, 7, 33}) {
      for (std::size_t width : {std::size_t{1}, std::size_t{3}, std::size_t{8}, std::size_t{15}, std::size_t{17}, std::size_t{63},
                                std::size_t{64}, std::size_t{200}, detail::kLayerNormMaxPanel}) {
        CAPTURE(rows);
        CAPTURE(width);
        const auto x = random_matrix<T>(rows, width, rows * 100 + width, -2, 3);
        const auto dy = random_matrix<T>(rows, width, rows * 100 + width + 1);
        const auto gamma = test::uniform<T>(rows, 5, 0.5, 1.5);
        const auto beta = test::uniform<T>(rows, 6);
        for (bool stream : {false, true}) {
          Matrix<T> y(rows, width), y_ref(rows, width, width + 1);
          std::vector<T> mean(width), inv(width), mean_ref(width), inv_ref(width);
          k.layer_norm_forward_block(x.view(), gamma.data(), beta.data(), T(1e-5), y.view(), mean.data(), inv.data(), stream);
          ref.layer_norm_forward_block(x.view(), gamma.data(), beta.data(), T(1e-5), y_ref.view(), mean_ref.data(),
                                       inv_ref.data(), false);
          for (std::size_t j = 0; j < width; ++j) {
            REQUIRE(close(double(mean[j]), double(mean_ref[j]), tol<T>()));
            REQUIRE(close(double(inv[j]), double(inv_ref[j]), 10 * tol<T>()));
          }
          for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < width; ++j) REQUIRE(close(double(y(i, j)), double(y_ref(i, j)), 10 * tol<T>()));
        }
        std::vector<T> mean(width), inv(width);
        Matrix<T> y(rows, width);
        ref.layer_norm_forward_block(x.view(), gamma.data(), beta.data(), T(1e-5), y.view(), mean.data(), inv.data(), false);
        Matrix<T> dx(rows, width), dx_ref(rows, width);
        std::vector<T> dg(rows), db(rows), dg_ref(rows), db_ref(rows);
        k.layer_norm_backward_block(x.view(), dy.view(), gamma.data(), mean.data(), inv.data(), dx.view(), dg.data(), db.data(),
                                    rows % 2 == 1);
        ref.layer_norm_backward_block(x.view(), dy.view(), gamma.data(), mean.data(), inv.data(), dx_ref.view(), dg_ref.data(),
                                      db_ref.data(), false);
        for (std::size_t i = 0; i < rows; ++i) {
          REQUIRE(close(double(dg[i]), double(dg_ref[i]), 10 * tol<T>(), double(width)));
          REQUIRE(close(double(db[i]), double(db_ref[i]), 10 * tol<T>(), double(width)));
          for (std::size_t j = 0; j < width; ++j) REQUIRE(close(double(dx(i, j)), double(dx_ref(i, j)), 100 * tol<T>(), 1.0));
        }
      }
    }
  });
}

TEST_CASE("batch norm forward normalizes each feature over the batch and keeps running statistics") {
  test::for_each_isa([&](Isa) {
    const std::size_t n = 4, m = 37;
    const auto x = random_matrix<double>(n, m, 1, 5, 9);
    const std::vector<double> gamma{1.0, 2.0, 0.5, -1.0}, beta{0.0, 1.0, -2.0, 0.25};
    std::vector<double> running_mean{1, 2, 3, 4}, running_var{1, 1, 2, 2};
    Matrix<double> y(n, m);
    NormalizationCache<double> cache;
    batch_norm_forward<double>(x.view(), gamma, beta, running_mean, running_var, y.view(), cache, {true, 0.25, 1e-5});
    CHECK(cache.batch_statistics);
    for (std::size_t i = 0; i < n; ++i) {
      double mu = 0, var = 0;
      for (std::size_t j = 0; j < m; ++j) mu += x(i, j) / double(m);
      for (std::size_t j = 0; j < m; ++j) var += (x(i, j) - mu) * (x(i, j) - mu) / double(m);
      CHECK(close(cache.mean[i], mu, 1e-13));
      CHECK(close(cache.inv_std[i], 1 / std::sqrt(var + 1e-5), 1e-12));
      CHECK(close(running_mean[i], 0.75 * double(i + 1) + 0.25 * mu, 1e-13));
      for (std::size_t j = 0; j < m; ++j)
        REQUIRE(close(y(i, j), gamma[i] * (x(i, j) - mu) / std::sqrt(var + 1e-5) + beta[i], 1e-12));
    }
    CHECK(close(running_var[0], 0.75 * 1 + 0.25 * (1 / (cache.inv_std[0] * cache.inv_std[0]) - 1e-5), 1e-10));
    // Inference uses the running statistics and leaves them alone.
    const auto rm = running_mean, rv = running_var;
    batch_norm_forward<double>(x.view(), gamma, beta, running_mean, running_var, y.view(), cache, {false, 0.25, 1e-5});
    CHECK(!cache.batch_statistics);
    CHECK(running_mean == rm);
    CHECK(running_var == rv);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j)
        REQUIRE(close(y(i, j), gamma[i] * (x(i, j) - rm[i]) / std::sqrt(rv[i] + 1e-5) + beta[i], 1e-12));
  });
}

TEST_CASE("batch norm backward agrees with finite differences of the forward, in training and inference") {
  test::for_each_isa([&](Isa) {
    for (bool training : {true, false}) {
      CAPTURE(training);
      const std::size_t n = 3, m = 11;
      auto x = random_matrix<double>(n, m, 2, -1, 2);
      std::vector<double> gamma{1.5, -0.5, 2.0}, beta{0.1, 0.2, 0.3};
      const auto w = random_matrix<double>(n, m, 3);  // L = Σ w ⊙ y, so dy = w
      const std::vector<double> rm0{0.2, -0.1, 0.4}, rv0{0.8, 1.3, 0.6};
      const BatchNormOptions<double> options{training, 0.1, 1e-3};
      Matrix<double> y(n, m);
      NormalizationCache<double> cache;
      check_against_finite_differences(
          x, gamma, beta, w,
          [&]() -> const Matrix<double>& {
            auto rm = rm0, rv = rv0;
            batch_norm_forward<double>(x.view(), gamma, beta, rm, rv, y.view(), cache, options);
            return y;
          },
          [&](MatrixView<double> dx, std::span<double> dgamma, std::span<double> dbeta) {
            batch_norm_backward<double>(x.view(), w.view(), gamma, cache, dx, dgamma, dbeta);
          });
    }
  });
}

TEST_CASE("layer norm forward normalizes each example over its features; backward agrees with finite differences") {
  test::for_each_isa([&](Isa) {
    const std::size_t n = 7, m = 13;
    auto x = random_matrix<double>(n, m, 4, -3, 1);
    auto gamma = test::uniform<double>(n, 5, 0.5, 2.0);
    auto beta = test::uniform<double>(n, 6);
    const auto w = random_matrix<double>(n, m, 7);
    Matrix<double> y(n, m);
    NormalizationCache<double> cache;
    layer_norm_forward<double>(x.view(), gamma, beta, y.view(), cache, LayerNormOptions<double>{1e-4});
    REQUIRE(cache.mean.size() == m);
    for (std::size_t j = 0; j < m; ++j) {
      double mu = 0, var = 0;
      for (std::size_t i = 0; i < n; ++i) mu += x(i, j) / double(n);
      for (std::size_t i = 0; i < n; ++i) var += (x(i, j) - mu) * (x(i, j) - mu) / double(n);
      CHECK(close(cache.mean[j], mu, 1e-13));
      for (std::size_t i = 0; i < n; ++i)
        REQUIRE(close(y(i, j), gamma[i] * (x(i, j) - mu) / std::sqrt(var + 1e-4) + beta[i], 1e-12));
    }
    check_against_finite_differences(
        x, gamma, beta, w,
        [&]() -> const Matrix<double>& {
          layer_norm_forward<double>(x.view(), gamma, beta, y.view(), cache, LayerNormOptions<double>{1e-4});
          return y;
        },
        [&](MatrixView<double> dx, std::span<double> dgamma, std::span<double> dbeta) {
          layer_norm_backward<double>(x.view(), w.view(), gamma, cache, dx, dgamma, dbeta);
        });
  });
}

// The earlier form with ε as an argument stays for code written against it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TEST_CASE("layer_norm_forward with ε as an argument equals the form with LayerNormOptions") {
  const auto x = random_matrix<double>(6, 9, 21);
  const std::vector<double> gamma = test::uniform<double>(6, 22, 0.5, 1.5), beta = test::uniform<double>(6, 23);
  Matrix<double> y(6, 9), y_old(6, 9);
  NormalizationCache<double> cache, cache_old;
  layer_norm_forward<double>(x.view(), gamma, beta, y.view(), cache, LayerNormOptions<double>{1e-3});
  layer_norm_forward<double>(x.view(), gamma, beta, 1e-3, y_old.view(), cache_old);
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < 9; ++j) CHECK(y(i, j) == y_old(i, j));
  CHECK(cache.inv_std == cache_old.inv_std);
}
#pragma GCC diagnostic pop

TEST_CASE_TEMPLATE("batch norm and layer norm work in place: y = x and dx = dy give the out-of-place results", T, float,
                   double) {
  const std::size_t n = 5, m = 301;
  const auto x = random_matrix<T>(n, m, 13, -2, 2);
  const auto dy = random_matrix<T>(n, m, 14);
  const auto gamma = test::uniform<T>(n, 15, 0.5, 1.5);
  const auto beta = test::uniform<T>(n, 16);
  for (bool layer : {false, true}) {
    CAPTURE(layer);
    std::vector<T> rm(n, T(0)), rv(n, T(1)), dg(n), db(n);
    NormalizationCache<T> cache;
    const auto forward = [&](MatrixView<const T> in, MatrixView<T> out) {
      if (layer) layer_norm_forward<T>(in, gamma, beta, out, cache, LayerNormOptions<T>{T(1e-5)});
      else batch_norm_forward<T>(in, gamma, beta, rm, rv, out, cache);
    };
    const auto backward = [&](MatrixView<const T> grad, MatrixView<T> out) {
      if (layer) layer_norm_backward<T>(x.view(), grad, gamma, cache, out, dg, db);
      else batch_norm_backward<T>(x.view(), grad, gamma, cache, out, dg, db);
    };
    Matrix<T> y(n, m, m + 3), dx(n, m, m + 3);
    forward(x.view(), y.view());
    backward(dy.view(), dx.view());
    Matrix<T> in_place = x, grad_in_place = dy;
    forward(in_place.view(), in_place.view());
    CHECK(same_bits(in_place, y));
    forward(x.view(), y.view());  // the cache of x again
    backward(grad_in_place.view(), grad_in_place.view());
    CHECK(same_bits(grad_in_place, dx));
  }
}
