// Extrapolated differences (richardson, ridders) through the generic API: values with error bounds,
// the three-way agreement, a J rounded through float, determinism over thread counts.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

/** J(θ) = Σ sin(θᵢ)·exp(θᵢ₊₁/2) + θᵢ²/3 (cyclic), smooth with a known gradient; slices "a" (3 × 2) and "b" (4 × 1). */
struct SmoothFunction {
  std::vector<TensorInfo> layout{{"a", 0, 3, 2}, {"b", 6, 4, 1}};
  std::vector<double> theta;

  explicit SmoothFunction(std::uint64_t seed) : theta(test::uniform<double>(10, seed, -1.2, 1.2)) {}

  static double value(std::span<const double> t) {
    double s = 0;
    for (std::size_t i = 0; i < t.size(); ++i)
      s += std::sin(t[i]) * std::exp(t[(i + 1) % t.size()] / 2) + t[i] * t[i] / 3;
    return s;
  }
  std::vector<double> gradient() const {
    const std::size_t n = theta.size();
    std::vector<double> g(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t next = (i + 1) % n;
      g[i] += std::cos(theta[i]) * std::exp(theta[next] / 2) + 2 * theta[i] / 3;
      g[next] += std::sin(theta[i]) * std::exp(theta[next] / 2) / 2;
    }
    return g;
  }
};

double median_relative_error(const GradcheckReport& r, const std::vector<double>& exact) {
  std::vector<double> errors;
  for (std::size_t i = 0; i < exact.size(); ++i) errors.push_back(std::abs(r.numeric_gradient[i] - exact[i]) / std::abs(exact[i]));
  std::nth_element(errors.begin(), errors.begin() + errors.size() / 2, errors.end());
  return errors[errors.size() / 2];
}

GradcheckOptions with_scheme(DifferenceScheme scheme) {
  GradcheckOptions options;
  options.scheme = scheme;
  return options;
}

}  // namespace

TEST_CASE("richardson and ridders give each entry a value within its error bound and agree with an exact gradient") {
  const SmoothFunction fn(7);
  const std::vector<double> exact = fn.gradient();
  const GradcheckReport central = gradcheck(SmoothFunction::value, fn.theta, exact, fn.layout);
  CHECK(central.scheme == DifferenceScheme::central);
  CHECK(central.numeric_error_bound.empty());
  for (const auto& scheme_and_steps : {std::pair{DifferenceScheme::richardson, 4}, std::pair{DifferenceScheme::ridders, 6}}) {
    // Copies, not structured bindings: clang 14 cannot capture those in doctest's CAPTURE lambdas.
    const auto scheme = scheme_and_steps.first;
    const auto steps = scheme_and_steps.second;
    const GradcheckReport r = gradcheck(SmoothFunction::value, fn.theta, exact, fn.layout, with_scheme(scheme));
    INFO(difference_scheme_name(scheme) << "\n" << r.to_text());
    CHECK(r.verdict == Verdict::great);
    CHECK(r.agreement == Agreement::agree);
    for (const TensorCheck& t : r.tensors) {
      CHECK(t.agreement == Agreement::agree);
      CHECK(t.agreeing == t.total);
    }
    CHECK(r.evaluations == 2 + 2 * static_cast<std::size_t>(steps) * exact.size());
    REQUIRE(r.numeric_error_bound.size() == exact.size());
    for (std::size_t i = 0; i < exact.size(); ++i) {
      CAPTURE(i);
      CHECK(std::abs(r.numeric_gradient[i] - exact[i]) <= 4 * r.numeric_error_bound[i] + 1e-15);
      CHECK(r.numeric_error_bound[i] < 1e-8);
    }
    // Extrapolation gains digits over the central difference's ~1e-9.
    CHECK(median_relative_error(r, exact) < median_relative_error(central, exact));
    if (scheme == DifferenceScheme::ridders) CHECK(median_relative_error(r, exact) <= 1e-12);
    CHECK(r.to_text().find(std::string(difference_scheme_name(scheme)) + " error bounds: agree") != std::string::npos);
  }
}

TEST_CASE("ridders tells a 1e-6 relative error in one slice from rounding noise, with no tolerance to choose") {
  const SmoothFunction fn(11);
  std::vector<double> planted = fn.gradient();
  planted[7] *= 1 + 1e-6;  // in slice b
  const GradcheckReport r = gradcheck(SmoothFunction::value, fn.theta, planted, fn.layout, with_scheme(DifferenceScheme::ridders));
  INFO(r.to_text());
  CHECK(r.agreement == Agreement::disagree);
  CHECK(r.tensors[0].agreement == Agreement::agree);
  CHECK(r.tensors[1].agreement == Agreement::disagree);
  CHECK(r.tensors[1].disagreeing == 1);
  CHECK(r.tensors[1].agreeing == 3);
}

TEST_CASE("ridders on a J rounded through float: correct gradients never disagree, a 1 % error always does") {
  std::size_t disagreeing_correct = 0, caught = 0;
  constexpr std::size_t kCases = 20;
  for (std::uint64_t seed = 0; seed < kCases; ++seed) {
    const SmoothFunction fn(100 + seed);
    const auto rounded = [](std::span<const double> t) { return double(float(SmoothFunction::value(t))); };
    std::vector<double> g = fn.gradient();
    const GradcheckReport right = gradcheck(rounded, fn.theta, g, fn.layout, with_scheme(DifferenceScheme::ridders));
    disagreeing_correct += right.agreement == Agreement::disagree;
    g[seed % 6] *= 1.01;  // slice a
    const GradcheckReport wrong = gradcheck(rounded, fn.theta, g, fn.layout, with_scheme(DifferenceScheme::ridders));
    caught += wrong.tensors[0].agreement == Agreement::disagree && wrong.tensors[1].agreement != Agreement::disagree;
  }
  CHECK(disagreeing_correct == 0);
  CHECK(caught == kCases);
}
