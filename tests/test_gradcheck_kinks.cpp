// Kinks as brackets: ReLU pre-activations placed exactly at θ (and half a step off), so that the
// central differences of the biases straddle the kink; the analytic derivative is judged against the
// one-sided differences, and a planted value outside them fails with its own fingerprint.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mlp_test_support.hpp"
#include "mlpkit/gradcheck.hpp"

using namespace mlpkit;

namespace {

/** 2-3-1 ReLU / BCE; example 0 is x = 0, so Z1[:, 0] = b1 exactly: with b1 = offset, every b1 entry's difference straddles 0. */
struct KinkedNet {
  Mlp<double> net;
  Matrix<double> x, y;
  explicit KinkedNet(double offset)
      : net(config()), x(test::random_matrix<double>(2, 5, 7, 0.5, 1.5)), y(test::labels_for<double>(Loss::binary_cross_entropy, 1, 5, 8)) {
    x(0, 0) = 0;
    x(1, 0) = 0;
    for (std::size_t j = 0; j < 3; ++j) net.bias(1)(j, 0) = offset;
    // W2 > 0 and W1 > 0: example 0's side of the kink moves dJ/db1 by a clear amount.
    for (std::size_t j = 0; j < 3; ++j) {
      net.weights(2)(0, j) = 0.5 + 0.25 * static_cast<double>(j);
      for (std::size_t k = 0; k < 2; ++k) net.weights(1)(j, k) = 0.3 + 0.1 * static_cast<double>(j + k);
    }
  }
  static MlpConfig<double> config() {
    MlpConfig<double> c;
    c.dims = {2, 3, 1};
    c.hidden = Activation::relu;
    return c;
  }
  std::vector<double> gradient() const {
    Mlp<double> copy(net);
    copy.forward_backward(x.view(), y.view());
    return {copy.gradients().begin(), copy.gradients().end()};
  }
};

}  // namespace

TEST_CASE("kinks: a ReLU kink exactly at θ, or ε/2 off it, is judged against its one-sided derivatives") {
  for (const double offset : {0.0, 0.5e-7}) {
    CAPTURE(offset);
    const KinkedNet k(offset);
    const GradcheckReport report = gradcheck(k.net, k.x.view(), k.y.view());
    REQUIRE(report.kinks.size() == 3);  // b1's three entries, nothing else
    CHECK(report.verdict == Verdict::great);
    const std::size_t b1 = k.net.tensors()[1].offset;
    for (const GradcheckEntry& e : report.kinks) {
      CHECK(e.index >= b1);
      CHECK(e.index < b1 + 3);
      CHECK(e.in_bracket);
      // Example 0 adds to one side only: the sides differ, and analytic is the side θ lies on
      // (relu'(0) = 0: the left one at the kink; the right one ε/2 above it).
      CHECK(std::abs(e.right - e.left) > 1e-3);
      const double side = offset == 0 ? e.left : e.right;
      CHECK(e.analytic == doctest::Approx(side).epsilon(1e-6));
      // The central difference is their mean, far from the analytic value: what a plain check would call wrong.
      CHECK(std::abs(e.numeric - e.analytic) > 1e-4);
    }
    for (const TensorCheck& t : report.tensors) {
      CHECK(t.kinks_outside == 0);
      CHECK(t.fingerprint == Fingerprint::none);
    }
    CHECK(report.evaluations >= 1 + 2 * 3);
    CHECK(report.to_text().find("in bracket") != std::string::npos);
  }
}

TEST_CASE("kinks: an analytic value outside the bracket fails with kink_outside_bracket, naming the tensor") {
  const KinkedNet k(0.0);
  std::vector<double> analytic = k.gradient();
  const std::size_t b1 = k.net.tensors()[1].offset;
  const GradcheckReport good = gradcheck(k.net, k.x.view(), k.y.view());
  const GradcheckEntry& e = good.kinks[1];
  REQUIRE(e.index == b1 + 1);
  analytic[b1 + 1] = e.right + (e.right - e.left);  // beyond the far side by the whole bracket
  for (const DifferenceScheme scheme : {DifferenceScheme::central, DifferenceScheme::ridders}) {
    CAPTURE(scheme);
    GradcheckOptions options;
    options.scheme = scheme;
    const GradcheckReport report = gradcheck(k.net, k.x.view(), k.y.view(), analytic, options);
    CHECK(report.verdict == Verdict::wrong);
    for (const TensorCheck& t : report.tensors) {
      const std::string name = t.name;
      CAPTURE(name);
      if (name == "b1") {
        CHECK(t.kinks_outside == 1);
        CHECK(t.verdict == Verdict::wrong);
        CHECK(t.fingerprint == Fingerprint::kink_outside_bracket);
        CHECK(t.diagnosis.find("outside the one-sided derivatives") != std::string::npos);
        if (scheme != DifferenceScheme::central) CHECK(t.agreement == Agreement::disagree);
      } else {
        CHECK(t.verdict == Verdict::great);
        CHECK(t.fingerprint == Fingerprint::none);
      }
    }
    CHECK(report.to_json().find("kink_outside_bracket") != std::string::npos);
  }
}
