// Second order: check_hvp on a function with a known Hessian, on the Mlp's own R-operator for every
// smooth activation × loss (and dropout), on R-operators with a planted fault that it must name,
// determinism over thread counts, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "mlp_test_support.hpp"
#include "gradcheck_test_support.hpp"
#include "mlpkit/gradcheck.hpp"
#include "mlpkit/hessian.hpp"
#include "model/mlp_hvp.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

/** The Rosenbrock function in n = 4: its gradient and its Hessian in closed form; slices "a" (2) and "b" (2). */
struct Rosenbrock {
  static constexpr std::size_t n = 4;
  std::vector<TensorInfo> layout{{"a", 0, 2, 1}, {"b", 2, 2, 1}};
  std::vector<double> theta{-1.2, 1.0, 0.7, 0.4};

  static std::vector<double> gradient(std::span<const double> t) {
    std::vector<double> g(n, 0.0);
    for (std::size_t i = 0; i + 1 < n; ++i) {
      const double r = t[i + 1] - t[i] * t[i];
      g[i] += -400 * t[i] * r - 2 * (1 - t[i]);
      g[i + 1] += 200 * r;
    }
    return g;
  }
  static std::vector<double> hessian(std::span<const double> t) {
    std::vector<double> h(n * n, 0.0);
    for (std::size_t i = 0; i + 1 < n; ++i) {
      h[i * n + i] += 1200 * t[i] * t[i] - 400 * t[i + 1] + 2;
      h[i * n + i + 1] += -400 * t[i];
      h[(i + 1) * n + i] += -400 * t[i];
      h[(i + 1) * n + i + 1] += 200;
    }
    return h;
  }
  /** H·v, with the entries of slice b scaled by `b_factor` (1: correct). */
  static HvpFunction hvp(double b_factor) {
    return [b_factor](std::span<const double> t, std::span<const double> v) {
      const std::vector<double> h = hessian(t);
      std::vector<double> out(n, 0.0);
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) out[i] += h[i * n + j] * v[j];
      out[2] *= b_factor;
      out[3] *= b_factor;
      return out;
    };
  }
};

GradcheckOptions ridders() {
  GradcheckOptions options;
  options.scheme = DifferenceScheme::ridders;
  options.initial_step = 0.01;  // from 0.05 on, ridders stops early on a few entries (their bound still covers it)
  options.directions = 3;
  return options;
}

/** A small network with data the loss accepts. */
struct Case {
  Mlp<double> net;
  Matrix<double> x, y;
  Case(const test::LossCase& loss, Activation hidden, double l2, double keep_prob = 1)
      : net(config(loss, hidden, l2, keep_prob)),
        x(test::random_matrix<double>(3, 6, 11)),
        y(test::labels_for<double>(loss.loss, loss.outputs, 6, 12)) {
    net.set_step(3);
  }
  static MlpConfig<double> config(const test::LossCase& loss, Activation hidden, double l2, double keep_prob) {
    MlpConfig<double> c = test::make_config<double>(loss, hidden, {3, 5, 4});
    c.l2 = l2;
    c.keep_prob = keep_prob;
    return c;
  }
  MatrixView<const double> xv() const { return x.view(); }
  MatrixView<const double> yv() const { return y.view(); }
};

/** check_hvp of Case's network with the R-operator leaving out what `fault` names. */
GradcheckReport check_with_fault(const Case& c, const detail::HvpFault& fault, const GradcheckOptions& options) {
  const GradientFunction grad = [&](std::span<const double> theta) {
    Mlp<double> copy(c.net);
    std::copy(theta.begin(), theta.end(), copy.parameters().begin());
    copy.forward_backward(c.xv(), c.yv());
    return std::vector<double>(copy.gradients().begin(), copy.gradients().end());
  };
  const HvpFunction hvp = [&](std::span<const double>, std::span<const double> v) {
    std::vector<double> hv(v.size());
    detail::hessian_vector_product_with<double>(c.net, c.xv(), c.yv(), v, hv, {}, fault);
    return hv;
  };
  GradcheckOptions inner = options;
  inner.batch_size = 6;
  inner.l2_over_m = c.net.config().l2 / 6;
  return check_hvp(grad, c.net.parameters(), hvp, c.net.tensors(), inner);
}

using test::tensor;

}  // namespace

TEST_CASE("check_hvp: the Rosenbrock Hessian, column by column, in every scheme") {
  const Rosenbrock r;
  for (const DifferenceScheme scheme : {DifferenceScheme::central, DifferenceScheme::richardson, DifferenceScheme::ridders}) {
    CAPTURE(scheme);
    GradcheckOptions options = ridders();
    options.scheme = scheme;
    const GradcheckReport report = check_hvp(Rosenbrock::gradient, r.theta, Rosenbrock::hvp(1), r.layout, options);
    const std::size_t k = report.cotangents;
    REQUIRE(k == 3 + Rosenbrock::n);  // 3 random directions, then the 4 unit ones
    CHECK(report.outputs == Rosenbrock::n);
    CHECK(report.evaluations == 2 + 2 * k * (scheme == DifferenceScheme::central ? 1 : scheme == DifferenceScheme::richardson ? 4 : 6));
    CHECK(report.verdict == Verdict::great);
    CHECK(report.agreement == Agreement::agree);
    // The unit directions give the Hessian's columns: numeric_gradient[i·K + 3 + j] ≈ H[i][j].
    const std::vector<double> h = Rosenbrock::hessian(r.theta);
    double worst = 0;
    for (std::size_t i = 0; i < Rosenbrock::n; ++i)
      for (std::size_t j = 0; j < Rosenbrock::n; ++j)
        worst = std::max(worst, std::abs(report.numeric_gradient[i * k + 3 + j] - h[i * Rosenbrock::n + j]) / 1200);
    CHECK(worst < (scheme == DifferenceScheme::central ? 1e-6 : 1e-10));
    if (scheme != DifferenceScheme::central) {
      CHECK(report.relative_error < 1e-12);
      CHECK(tensor(report, "a").agreeing == 2 * k);
    }
  }
}

TEST_CASE("check_hvp names the slice whose Hessian–vector product is wrong") {
  const Rosenbrock r;
  const GradcheckReport report = check_hvp(Rosenbrock::gradient, r.theta, Rosenbrock::hvp(2), r.layout, ridders());
  CHECK(report.agreement == Agreement::disagree);
  CHECK(tensor(report, "a").agreement == Agreement::agree);
  CHECK(tensor(report, "a").verdict == Verdict::great);
  const TensorCheck& b = tensor(report, "b");
  CHECK(b.agreement == Agreement::disagree);
  CHECK(b.verdict == Verdict::wrong);
  CHECK(b.fingerprint == Fingerprint::factor_two);
  CHECK(b.worst.index >= 2);
  CHECK(b.offset == 2);
}

TEST_CASE("check_hvp agrees with the Mlp's R-operator on every smooth activation × loss") {
  const Activation smooth[] = {Activation::tanh, Activation::sigmoid, Activation::gelu, Activation::gelu_tanh};
  for (const test::LossCase& loss : test::kLossCases)
    for (const Activation hidden : smooth) {
      const Case c(loss, hidden, 0.3);
      const std::string name = std::string(loss.name) + " / " + std::string(activation_name(hidden));
      CAPTURE(name);
      const GradcheckReport report = check_hvp(c.net, c.xv(), c.yv(), ridders());
      const double relative_error = report.relative_error;
      CAPTURE(relative_error);
      CHECK(report.agreement == Agreement::agree);
      CHECK(relative_error < 1e-9);
      for (const TensorCheck& t : report.tensors) {
        const std::string tensor_name = t.name;
        CAPTURE(tensor_name);
        CHECK(t.agreement == Agreement::agree);
        CHECK(t.disagreeing == 0);
      }
      // Central differences at ε = 1e-7: great, without an error bound.
      const GradcheckReport central = check_hvp(c.net, c.xv(), c.yv());
      CHECK(central.verdict == Verdict::great);
    }
}

TEST_CASE("check_hvp: the R-operator holds the dropout mask fixed as the gradient does") {
  const Case c(test::kLossCases[0], Activation::tanh, 0.1, 0.7);
  const GradcheckReport report = check_hvp(c.net, c.xv(), c.yv(), ridders());
  CHECK(report.agreement == Agreement::agree);
  CHECK(report.relative_error < 1e-9);
}

TEST_CASE("check_hvp names the layer whose second-order term is missing") {
  SUBCASE("the curvature g''(Z2)·R(Z2) of hidden layer 2: wrong in layers 1 and 2, right in 3") {
    const Case c(test::kLossCases[3], Activation::tanh, 0);
    detail::HvpFault fault;
    fault.drop_curvature_layer = 2;
    const GradcheckReport report = check_with_fault(c, fault, ridders());
    for (const char* bad : {"W1", "b1", "W2", "b2"}) {
      CAPTURE(bad);
      CHECK(tensor(report, bad).agreement == Agreement::disagree);
      CHECK(tensor(report, bad).verdict != Verdict::great);
    }
    for (const char* good : {"W3", "b3"}) {
      CAPTURE(good);
      CHECK(tensor(report, good).agreement == Agreement::agree);
      CHECK(tensor(report, good).verdict == Verdict::great);
    }
    CHECK(tensor(report, "W2").fingerprint == Fingerprint::upstream);
  }
  SUBCASE("the L2 term (λ/m)·V1 of W1: only W1 wrong, fingerprinted missing_l2") {
    const Case c(test::kLossCases[0], Activation::sigmoid, 0.5);
    detail::HvpFault fault;
    fault.drop_l2_layer = 1;
    const GradcheckReport report = check_with_fault(c, fault, ridders());
    for (const TensorCheck& t : report.tensors) {
      const std::string name = t.name;
      CAPTURE(name);
      CHECK(t.agreement == (name == "W1" ? Agreement::disagree : Agreement::agree));
    }
    const TensorCheck& w1 = tensor(report, "W1");
    CHECK(w1.fingerprint == Fingerprint::missing_l2);
    CHECK(w1.fit_beta == doctest::Approx(-0.5 / 6).epsilon(1e-3));
  }
}

TEST_CASE("hessian_vector_product: J as Mlp::loss, the gradient as forward_backward, float as double") {
  const Case c(test::kLossCases[4], Activation::gelu_tanh, 0.3, 0.8);
  const std::size_t n = c.net.parameter_count();
  const std::vector<double> v = test::uniform<double>(n, 5, -1, 1);
  std::vector<double> hv(n), gradient(n);
  const double cost = hessian_vector_product<double>(c.net, c.xv(), c.yv(), v, hv, gradient);
  CHECK(cost == doctest::Approx(c.net.loss(c.xv(), c.yv())).epsilon(1e-14));
  Mlp<double> copy(c.net);
  copy.forward_backward(c.xv(), c.yv());
  for (std::size_t i = 0; i < n; ++i) CHECK(gradient[i] == doctest::Approx(copy.gradients()[i]).epsilon(1e-12).scale(1e-12));
  // Linear in v: H·(2v) = 2·H·v exactly (a power of two).
  std::vector<double> v2(v), hv2(n);
  for (double& e : v2) e *= 2;
  (void)hessian_vector_product<double>(c.net, c.xv(), c.yv(), v2, hv2);
  for (std::size_t i = 0; i < n; ++i) CHECK(hv2[i] == 2 * hv[i]);
  // The float model: the same product to float's accuracy.
  const Mlp<float> single(c.net);
  Matrix<float> xf(3, 6), yf(2, 6);
  for (std::size_t j = 0; j < 6; ++j) {
    for (std::size_t i = 0; i < 3; ++i) xf(i, j) = static_cast<float>(c.x(i, j));
    for (std::size_t i = 0; i < 2; ++i) yf(i, j) = static_cast<float>(c.y(i, j));
  }
  std::vector<float> vf(v.begin(), v.end()), hvf(n);
  (void)hessian_vector_product<float>(single, xf.view(), yf.view(), vf, hvf);
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < n; ++i) {
    diff += (hvf[i] - hv[i]) * (hvf[i] - hv[i]);
    norm += hv[i] * hv[i];
  }
  CHECK(std::sqrt(diff / norm) < 1e-5);
}
