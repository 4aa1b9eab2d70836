// The fingerprints of dropout, bias-sum and activation-derivative bugs: each bug planted in an
// otherwise correct gradient, and the report must name it on the tensors it spoils, only there.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "mlp_test_support.hpp"
#include "mlpkit/gradcheck.hpp"
#include "model/mlp_hvp.hpp"

using namespace mlpkit;

namespace {

constexpr std::size_t kExamples = 6;

struct Net {
  Mlp<double> net;
  Matrix<double> x, y;
  Net(std::vector<std::size_t> hidden_dims, Activation hidden, double keep_prob)
      : net(test::with_dropout<double>(test::kLossCases[0], hidden, std::move(hidden_dims), keep_prob, 0.1, 5)),
        x(test::random_matrix<double>(3, kExamples, 21)),
        y(test::labels_for<double>(Loss::binary_cross_entropy, 1, kExamples, 22)) {}
  std::vector<double> gradient() const {
    Mlp<double> copy(net);
    copy.forward_backward(x.view(), y.view());
    return {copy.gradients().begin(), copy.gradients().end()};
  }
  GradcheckReport check(std::span<const double> analytic) const { return gradcheck(net, x.view(), y.view(), analytic); }
  TensorInfo tensor(const std::string& name) const { return test::layout_entry(net, name); }
};

void scale(std::vector<double>& g, const TensorInfo& t, double factor) {
  for (std::size_t i = t.offset; i < t.offset + t.rows * t.cols; ++i) g[i] *= factor;
}

/** The named tensors carry `expected`, every other one passes. */
void expect_named(const GradcheckReport& report, std::initializer_list<std::string> bad, Fingerprint expected,
                  const std::string& phrase) {
  for (const TensorCheck& t : report.tensors) {
    const std::string name = t.name, diagnosis = t.diagnosis;
    CAPTURE(name);
    CAPTURE(diagnosis);
    bool is_bad = false;
    for (const std::string& b : bad) is_bad = is_bad || b == name;
    if (is_bad) {
      CHECK(t.verdict != Verdict::great);
      CHECK(t.fingerprint == expected);
      CHECK(diagnosis.find(phrase) != std::string::npos);
    } else {
      CHECK(t.verdict == Verdict::great);
      CHECK(t.fingerprint == Fingerprint::none);
    }
  }
}

}  // namespace

TEST_CASE("fingerprint: the 1/keep_prob rescale of inverted dropout missing, or applied twice") {
  const Net n({3, 5}, Activation::tanh, 0.8);
  for (const double factor : {0.8, 1 / 0.8}) {
    CAPTURE(factor);
    std::vector<double> g = n.gradient();
    scale(g, n.tensor("W1"), factor);  // dZ1 (and so dW1, db1) scaled: the backward mask without 1/keep_prob
    scale(g, n.tensor("b1"), factor);
    const GradcheckReport report = n.check(g);
    expect_named(report, {"W1", "b1"}, Fingerprint::dropout_rescale, factor < 1 ? "is missing" : "applied twice");
    CHECK(report.tensors[0].fit_alpha == doctest::Approx(factor).epsilon(1e-6));
  }
}

TEST_CASE("fingerprint: a bias gradient averaged where the batch sum belongs, or summed where the mean does") {
  const Net n({3, 5, 4}, Activation::sigmoid, 1);
  for (const double factor : {1.0 / kExamples, static_cast<double>(kExamples)}) {
    CAPTURE(factor);
    std::vector<double> g = n.gradient();
    scale(g, n.tensor("b2"), factor);
    const GradcheckReport report = n.check(g);
    if (factor < 1)
      expect_named(report, {"b2"}, Fingerprint::factor_inverse_m, "m times too small");
    else
      expect_named(report, {"b2"}, Fingerprint::factor_m, "m times too large");
  }
}

TEST_CASE("fingerprint: a bias gradient that is one example's, not the sum over the batch") {
  const Net n({3, 5, 4}, Activation::tanh, 1);
  std::vector<double> g = n.gradient();
  std::vector<double> scratch(g.size());
  const std::vector<std::vector<double>> dz =
      detail::backward_with<double>(n.net, n.x.view(), n.y.view(), scratch, detail::HvpFault{});
  const TensorInfo& b2 = n.tensor("b2");
  for (const double factor : {1.0, static_cast<double>(kExamples)}) {
    CAPTURE(factor);
    for (std::size_t i = 0; i < b2.rows; ++i) g[b2.offset + i] = factor * dz[2][i * kExamples + 3];  // example 3 alone
    const GradcheckReport report = n.check(g);
    expect_named(report, {"b2"}, Fingerprint::bias_batch_sum, "one example's gradient (example 3");
  }
}

TEST_CASE("fingerprint: the activation derivative taken at the output A instead of the pre-activation Z") {
  for (const Activation hidden : {Activation::tanh, Activation::sigmoid, Activation::gelu}) {
    CAPTURE(hidden);
    const Net n({3, 5, 4}, hidden, 1);
    std::vector<double> g(n.net.parameter_count());
    detail::HvpFault bug;
    bug.derivative_at_output_layer = 2;  // g'(A2) for g'(Z2): layers 1 and 2 wrong, 3 right
    (void)detail::backward_with<double>(n.net, n.x.view(), n.y.view(), g, bug);
    const GradcheckReport report = n.check(g);
    expect_named(report, {"W1", "b1", "W2", "b2"}, Fingerprint::derivative_at_output, "layer 2's activation uses g'(A2)");
  }
}
