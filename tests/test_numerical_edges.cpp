// Numerical edge cases at the library's public surface: saturated sigmoid and BCE, softmax of
// logits far apart, constant features, IEEE propagation of Inf and NaN through gemm, and a
// gradient check whose J stops being finite.
#include <cmath>
#include <limits>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "mlpkit/normalization.hpp"
#include "test_support.hpp"

using namespace mlpkit;

TEST_CASE_TEMPLATE("sigmoid, its derivative and BCE stay finite and exact at |z| = 1000", T, float, double) {
  test::for_each_isa([](Isa) {
    const std::vector<T> z{T(1000), T(-1000), T(0)};
    std::vector<T> y(3), dx(3), dy(3, T(1));
    activation_forward(Activation::sigmoid, z.data(), y.data(), 3);
    CHECK(y[0] == T(1));
    CHECK(y[1] == T(0));
    CHECK(y[2] == T(0.5));
    activation_backward(Activation::sigmoid, z.data(), dy.data(), dx.data(), 3);
    CHECK(dx[0] == T(0));
    CHECK(dx[1] == T(0));
    CHECK(dx[2] == T(0.25));
    activation_backward_from_output(Activation::sigmoid, y.data(), dy.data(), dx.data(), 3);
    CHECK(dx[0] == T(0));
    CHECK(dx[1] == T(0));

    // With logits: a confident right answer costs 0, a confident wrong one exactly |z|.
    const std::vector<T> logits{T(1000), T(-1000), T(1000), T(-1000)};
    const std::vector<T> right{T(1), T(0), T(1), T(0)}, wrong{T(0), T(1), T(0), T(1)};
    std::vector<T> dz(4);
    CHECK(binary_cross_entropy_with_logits<T>({logits.data(), 1, 4, 4}, {right.data(), 1, 4, 4}, {dz.data(), 1, 4, 4}) == T(0));
    for (T g : dz) CHECK(g == T(0));
    const T cost = binary_cross_entropy_with_logits<T>({logits.data(), 1, 4, 4}, {wrong.data(), 1, 4, 4}, {dz.data(), 1, 4, 4});
    CHECK(cost == T(1000));
    CHECK(dz[0] == T(0.25));  // (σ(z) − y)/m = (1 − 0)/4
    CHECK(dz[1] == T(-0.25));

    // From probabilities that saturated to exactly 0 and 1, the documented result is +Inf.
    const std::vector<T> p{y[0], y[1]}, labels{T(0), T(1)};
    CHECK(std::isinf(binary_cross_entropy<T>({p.data(), 1, 2, 2}, {labels.data(), 1, 2, 2})));

    // The fused gemm epilogue saturates the same way.
    const std::vector<T> a{T(1)}, b{T(1000), T(-1000)};
    std::vector<T> c(2);
    Epilogue<T> e;
    e.activation = Activation::sigmoid;
    gemm<T>(Trans::no, Trans::no, T(1), {a.data(), 1, 1, 1}, {b.data(), 1, 2, 2}, T(0), {c.data(), 1, 2, 2}, e);
    CHECK(c[0] == T(1));
    CHECK(c[1] == T(0));
  });
}

TEST_CASE_TEMPLATE("softmax, log_softmax and cross-entropy are exact for logits 1e4 apart", T, float, double) {
  test::for_each_isa([](Isa) {
    // Classes × examples: column 0 = (0, 1e4, −1e4), column 1 = (−1e4, 1e4, 0).
    const std::vector<T> z{T(0), T(-1e4), T(1e4), T(1e4), T(-1e4), T(0)};  // 3 × 2
    std::vector<T> p(6), logp(6);
    softmax<T>({z.data(), 3, 2, 2}, {p.data(), 3, 2, 2});
    log_softmax<T>({z.data(), 3, 2, 2}, {logp.data(), 3, 2, 2});
    for (T v : p) CHECK(std::isfinite(v));
    CHECK(p[2] == T(1));  // (1, 0): the 1e4 logit of column 0
    CHECK(p[3] == T(1));  // (1, 1): column 1's 1e4
    CHECK(p[0] == T(0));
    CHECK(p[4] == T(0));
    CHECK(logp[2] == T(0));
    CHECK(logp[0] == T(-1e4));
    CHECK(logp[4] == T(-2e4));
    // Column 0's label on its smallest logit costs its distance to the largest (2e4); column 1's on
    // its largest costs 0: J = (2e4 + 0)/2.
    const std::vector<T> y{T(0), T(0), T(0), T(1), T(1), T(0)};
    std::vector<T> dz(6);
    const T cost = cross_entropy_with_logits<T>({z.data(), 3, 2, 2}, {y.data(), 3, 2, 2}, {dz.data(), 3, 2, 2});
    CHECK(cost == T(1e4));
    for (T g : dz) CHECK(std::isfinite(g));
    CHECK(dz[4] == T(-0.5));  // (p − y)/m with p = 0, y = 1
  });
}

TEST_CASE_TEMPLATE("a constant feature standardizes to 0 and back, with variance exactly 0", T, float, double) {
  // Row 0 constant at a large offset, row 1 varying.
  const std::size_t m = 1001;
  std::vector<T> x(2 * m);
  for (std::size_t j = 0; j < m; ++j) {
    x[j] = T(12345.678);
    x[m + j] = T(static_cast<double>(j % 7) - 3);
  }
  Standardizer<T> s;
  s.fit({x.data(), 2, m, m});
  CHECK(s.variance()[0] == T(0));
  CHECK(s.mean()[0] == T(12345.678));
  std::vector<T> z(2 * m), back(2 * m);
  s.transform({x.data(), 2, m, m}, {z.data(), 2, m, m});
  s.inverse_transform({z.data(), 2, m, m}, {back.data(), 2, m, m});
  for (std::size_t j = 0; j < m; ++j) {
    REQUIRE(z[j] == T(0));
    REQUIRE(back[j] == x[j]);
    REQUIRE(std::isfinite(z[m + j]));
  }
  // Test data off the constant maps to x − μ, not to (x − μ)/√ε.
  const std::vector<T> test_x{T(12346.678), T(0)};
  std::vector<T> test_z(2);
  s.transform({test_x.data(), 2, 1, 1}, {test_z.data(), 2, 1, 1});
  CHECK(test_z[0] == doctest::Approx(1.0).epsilon(1e-3));

  // Batch norm of a constant feature: β, up to rounding (x − μ is amplified by 1/√ε ≈ 316, so
  // the batch mean must be exact, or nearly: a mean summed in float over a chunk is not).
  const std::vector<T> gamma{T(2), T(1)}, beta{T(0.5), T(0)};
  std::vector<T> running_mean(2, T(0)), running_var(2, T(1)), y(2 * m);
  NormalizationCache<T> cache;
  batch_norm_forward<T>({x.data(), 2, m, m}, gamma, beta, running_mean, running_var, {y.data(), 2, m, m}, cache);
  for (std::size_t j = 0; j < m; ++j) REQUIRE(std::abs(double(y[j]) - 0.5) <= 1e-3);
}

TEST_CASE_TEMPLATE("gemm propagates Inf and NaN as IEEE arithmetic says and never reads C when beta = 0", T, float, double) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  test::for_each_isa([&](Isa) {
    for (std::size_t size : {std::size_t{3}, std::size_t{37}, std::size_t{130}}) {
      CAPTURE(size);
      const std::size_t n = size, k = size, m = size;
      std::vector<T> a(m * k, T(1)), b(k * n, T(0.5)), c(m * n, T(0));
      a[0] = nan;            // row 0 of C becomes NaN
      a[1 * k + 0] = inf;    // row 1: +Inf·0.5 = +Inf
      a[2 * k + 0] = inf;    // row 2: +Inf·(−0.5) and +Inf·(+0.5) → NaN
      a[2 * k + 1] = inf;
      b[1 * n + 0] = T(-0.5);  // only column 0 sees the −0.5 in row 1 of B
      gemm<T>(Trans::no, Trans::no, m, n, k, T(1), a.data(), k, b.data(), n, T(0), c.data(), n);
      for (std::size_t j = 0; j < n; ++j) {
        REQUIRE(std::isnan(c[j]));
        REQUIRE(c[n + j] == inf);
        if (j == 0)
          REQUIRE(std::isnan(c[2 * n + j]));
        else
          REQUIRE(c[2 * n + j] == inf);
      }
      for (std::size_t i = 3; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) REQUIRE(c[i * n + j] == T(0.5) * T(static_cast<double>(k)) - (j == 0 ? T(1) * T(1) : T(0)));

      // beta = 0: NaN in C is overwritten, not propagated (BLAS semantics).
      std::vector<T> ones(m * k, T(1)), c_nan(m * n, nan);
      gemm<T>(Trans::no, Trans::no, m, n, k, T(1), ones.data(), k, ones.data(), n, T(0), c_nan.data(), n);
      for (T v : c_nan) REQUIRE(v == T(static_cast<double>(k)));
      // alpha = 0: A and B are not read, so their NaN does not reach C = beta·C.
      std::vector<T> poisoned(m * k, nan), c_keep(m * n, T(2));
      gemm<T>(Trans::no, Trans::no, m, n, k, T(0), poisoned.data(), k, poisoned.data(), n, T(0.5), c_keep.data(), n);
      for (T v : c_keep) REQUIRE(v == T(1));
      // Inf · 0 in the product is NaN.
      std::vector<T> zeros(k * n, T(0)), infs(m * k, inf), c_inf(m * n, T(0));
      gemm<T>(Trans::no, Trans::no, m, n, k, T(1), infs.data(), k, zeros.data(), n, T(0), c_inf.data(), n);
      for (T v : c_inf) REQUIRE(std::isnan(v));
    }
  });
}

TEST_CASE("sampled gradcheck without a layout samples θ and catches a wrong entry") {
  // The generic API's default layout is empty (θ is one tensor "theta"): sampled mode must still
  // check entries, not report "great" after checking none.
  const std::vector<double> theta{0.5, -1.0, 2.0, 0.25};
  std::vector<double> gradient{1.0, -2.0, 4.0, 0.5};
  const auto f = [](std::span<const double> t) { return t[0] * t[0] + t[1] * t[1] + t[2] * t[2] + t[3] * t[3]; };
  GradcheckOptions options;
  options.mode = GradcheckMode::sampled;
  const GradcheckReport good = gradcheck(f, theta, gradient, {}, options);
  CHECK(good.checked == 4);
  CHECK(good.verdict == Verdict::great);
  gradient[2] = -4.0;
  const GradcheckReport bad = gradcheck(f, theta, gradient, {}, options);
  CHECK(bad.checked == 4);
  CHECK(bad.verdict == Verdict::wrong);
}
