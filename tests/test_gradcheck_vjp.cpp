// check_vjp: layers' vector–Jacobian products (the library's batch and layer norm backward, and
// hand-written copies of them with a planted bug in one input slice), determinism, bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "gradcheck_test_support.hpp"
#include "mlpkit/gradcheck.hpp"
#include "mlpkit/normalization.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

/** Which backward a NormLayer's vjp runs: the library's, a scalar copy, or the copy with its planted bug. */
enum class Backward { library, copy, broken };

/**
 * Batch or layer norm as a layer f(x, γ, β) = y over n features × m examples: the inputs are one
 * vector [X (n × m) | γ (n) | β (n)], the outputs Y (n × m), both row-major.
 */
struct NormLayer {
  static constexpr std::size_t n = 3, m = 5;
  static constexpr double epsilon = 1e-5;
  bool batch = true;  // false: layer norm
  std::vector<TensorInfo> layout{{"x", 0, n, m}, {"gamma", n * m, n, 1}, {"beta", n * m + n, n, 1}};

  std::vector<double> inputs() const {
    std::vector<double> v = test::uniform<double>(n * m, 3, -2, 2);
    for (std::size_t i = 0; i < n; ++i) v.push_back(0.5 + 0.25 * static_cast<double>(i));  // γ
    for (std::size_t i = 0; i < n; ++i) v.push_back(0.1 * static_cast<double>(i) - 0.1);   // β
    return v;
  }

  /** Y from the library's forward pass, and its cache. */
  std::vector<double> forward(std::span<const double> v, NormalizationCache<double>& cache) const {
    std::vector<double> y(n * m);
    const MatrixView<const double> x{v.data(), n, m, m};
    const std::span<const double> gamma = v.subspan(n * m, n), beta = v.subspan(n * m + n, n);
    const MatrixView<double> out{y.data(), n, m, m};
    if (batch) {
      std::vector<double> running_mean(n, 0.0), running_variance(n, 1.0);
      batch_norm_forward<double>(x, gamma, beta, running_mean, running_variance, out, cache, {true, 0.1, epsilon});
    } else {
      layer_norm_forward<double>(x, gamma, beta, out, cache, LayerNormOptions<double>{epsilon});
    }
    return y;
  }

  VectorFunction function() const {
    return [this](std::span<const double> v) {
      NormalizationCache<double> cache;
      return forward(v, cache);
    };
  }

  VjpFunction vjp(Backward backward) const {
    return [this, backward](std::span<const double> v, std::span<const double> u) {
      NormalizationCache<double> cache;
      (void)forward(v, cache);
      std::vector<double> g(n * m + 2 * n);
      if (backward != Backward::library) return copy(v, u, cache, backward == Backward::broken);
      const std::span<double> dgamma = std::span<double>(g).subspan(n * m, n), dbeta = std::span<double>(g).subspan(n * m + n, n);
      const MatrixView<const double> x{v.data(), n, m, m}, dy{u.data(), n, m, m};
      const MatrixView<double> dx{g.data(), n, m, m};
      if (batch)
        batch_norm_backward<double>(x, dy, v.subspan(n * m, n), cache, dx, dgamma, dbeta);
      else
        layer_norm_backward<double>(x, dy, v.subspan(n * m, n), cache, dx, dgamma, dbeta);
      return g;
    };
  }

  /**
   * The documented backward formulas in scalar code. The planted bugs: batch norm drops dx's −x̂·dγ
   * term (the variance's dependence on x), so only the slice x is wrong; layer norm takes dγ from
   * x − μ instead of x̂ (the 1/σ forgotten), so only γ is wrong.
   */
  std::vector<double> copy(std::span<const double> v, std::span<const double> u, const NormalizationCache<double>& cache,
                           bool broken) const {
    std::vector<double> g(n * m + 2 * n, 0.0);
    double* dx = g.data();
    double* dgamma = dx + n * m;
    double* dbeta = dgamma + n;
    const double* gamma = v.data() + n * m;
    auto mean = [&](std::size_t i, std::size_t j) { return cache.mean[batch ? i : j]; };
    auto inv_std = [&](std::size_t i, std::size_t j) { return cache.inv_std[batch ? i : j]; };
    auto x_hat = [&](std::size_t i, std::size_t j) { return (v[i * m + j] - mean(i, j)) * inv_std(i, j); };
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < m; ++j) {
        dbeta[i] += u[i * m + j];
        dgamma[i] += u[i * m + j] * (broken && !batch ? v[i * m + j] - mean(i, j) : x_hat(i, j));
      }
    if (batch) {
      // dx = γ·inv_std/m·(m·dy − dβ − x̂·dγ)
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < m; ++j)
          dx[i * m + j] = gamma[i] * inv_std(i, j) / m *
                          (m * u[i * m + j] - dbeta[i] - (broken ? 0.0 : x_hat(i, j) * dgamma[i]));
      return g;
    }
    // Per example j, g = dy·γ: dx = inv_std/n·(n·g − Σᵢ g − x̂·Σᵢ g·x̂)
    for (std::size_t j = 0; j < m; ++j) {
      double sum = 0, sum_hat = 0;
      for (std::size_t i = 0; i < n; ++i) {
        sum += u[i * m + j] * gamma[i];
        sum_hat += u[i * m + j] * gamma[i] * x_hat(i, j);
      }
      for (std::size_t i = 0; i < n; ++i)
        dx[i * m + j] = inv_std(i, j) / n * (n * u[i * m + j] * gamma[i] - sum - x_hat(i, j) * sum_hat);
    }
    return g;
  }

  /** check_vjp of the layer at its inputs against the backward `backward`. */
  GradcheckReport check(Backward backward, const GradcheckOptions& options = {}) const {
    return check_vjp(function(), inputs(), vjp(backward), layout, options);
  }
};

using test::tensor;

}  // namespace

TEST_CASE("check_vjp passes batch_norm_backward and layer_norm_backward for random and unit cotangents") {
  for (const bool batch : {true, false}) {
    CAPTURE(batch);
    const NormLayer layer{batch};
    for (const Backward backward : {Backward::library, Backward::copy}) {
      const GradcheckReport report = layer.check(backward);
      INFO(report.to_text());
      CHECK(report.verdict == Verdict::great);
      // 3 random cotangents and the 15 unit ones (15 outputs ≤ unit_cotangents_up_to).
      CHECK(report.cotangents == 18);
      CHECK(report.outputs == 15);
      CHECK(report.cotangent_values.size() == 18 * 15);
      CHECK(report.total == 21 * 18);
      CHECK(report.checked == report.total);
      CHECK(report.evaluations == 2 + 2 * 21);  // one pair of evaluations per input serves all 18 cotangents
      CHECK(report.numeric_gradient.size() == 21 * 18);
      REQUIRE(report.tensors.size() == 3);
      CHECK(report.tensors[0].offset == 0);
      CHECK(report.tensors[0].cols == 5);
      CHECK(report.tensors[1].offset == 15);
      CHECK(report.tensors[1].total == 3 * 18);
      CHECK(report.to_text().find("18 cotangents over 15 outputs") != std::string::npos);
    }
  }
}

TEST_CASE("check_vjp names the input slice that a broken batch norm or layer norm backward gets wrong") {
  for (const bool batch : {true, false}) {
    CAPTURE(batch);
    GradcheckOptions options;
    options.unit_cotangents_up_to = 0;  // random cotangents alone must catch it
    const GradcheckReport report = NormLayer{batch}.check(Backward::broken, options);
    INFO(report.to_text());
    CHECK(report.cotangents == 3);
    CHECK(report.verdict == Verdict::wrong);
    const std::string faulty = batch ? "x" : "gamma";
    for (const TensorCheck& t : report.tensors) {
      CAPTURE(t.name);
      CHECK(t.verdict == (t.name == faulty ? Verdict::wrong : Verdict::great));
    }
    // The worst entry in x's coordinates: inside the slice, with its cotangent.
    const TensorCheck& bad = tensor(report, faulty);
    CHECK(bad.worst.index >= bad.offset);
    CHECK(bad.worst.index < bad.offset + bad.rows * bad.cols);
    CHECK(bad.worst.index == bad.offset + bad.worst.row * bad.cols + bad.worst.col);
    CHECK(bad.worst.cotangent < 3);
    const double numeric = report.numeric_gradient[bad.worst.index * 3 + bad.worst.cotangent];
    CHECK(bad.worst.numeric == numeric);
  }
}

TEST_CASE("check_vjp of a linear map: unit cotangents check each Jacobian row, a wrong entry is found exactly") {
  // f(x) = A·x with A 2 × 3, vjp = Aᵀu; the planted bug: A[1][2] read as 0 in the backward.
  const std::vector<double> a{1, -2, 0.5, 3, 0.25, -1};
  const VectorFunction f = [&](std::span<const double> x) {
    return std::vector<double>{a[0] * x[0] + a[1] * x[1] + a[2] * x[2], a[3] * x[0] + a[4] * x[1] + a[5] * x[2]};
  };
  const auto vjp_with = [&](double a12) {
    return VjpFunction([&a, a12](std::span<const double>, std::span<const double> u) {
      return std::vector<double>{a[0] * u[0] + a[3] * u[1], a[1] * u[0] + a[4] * u[1], a[2] * u[0] + a12 * u[1]};
    });
  };
  const std::vector<double> x{0.3, -0.7, 1.1};
  GradcheckOptions options;
  options.cotangents = 0;  // the unit ones only: u = e₀, e₁
  const GradcheckReport right = check_vjp(f, x, vjp_with(a[5]), {}, options);
  CHECK(right.verdict == Verdict::great);
  CHECK(right.cotangents == 2);
  REQUIRE(right.tensors.size() == 1);
  CHECK(right.tensors[0].name == "x");
  const GradcheckReport wrong = check_vjp(f, x, vjp_with(0.0), {}, options);
  CHECK(wrong.verdict == Verdict::wrong);
  CHECK(wrong.tensors[0].worst.index == 2);
  CHECK(wrong.tensors[0].worst.row == 2);
  CHECK(wrong.tensors[0].worst.cotangent == 1);
  CHECK(wrong.tensors[0].worst.numeric == doctest::Approx(-1).epsilon(1e-8));
  CHECK(wrong.tensors[0].worst.analytic == 0);
}
