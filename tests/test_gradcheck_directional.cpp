// Directional mode: the Taylor-remainder test (slope 2 confirms a gradient, 1 convicts it), its
// report, its options, and the determinism of the whole mode.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mlp_test_support.hpp"
#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

using Network = test::NetworkCase<double>;

/** A small network of the given loss case and hidden activation, batch m, with λ = l2, and its gradient. */
Network make_network(const test::LossCase& loss, Activation hidden, std::vector<std::size_t> dims, std::size_t m,
                     double l2) {
  MlpConfig<double> config = test::make_config<double>(loss, hidden, dims);
  config.l2 = l2;
  return test::network_case(config, loss, m, 7, 8);
}

GradcheckOptions directional_options() {
  GradcheckOptions options;
  options.mode = GradcheckMode::directional;
  return options;
}

using test::layout_entry;

/** The planted bugs: each returns the gradient with one mistake. */
std::vector<double> planted(const Network& n, const std::string& bug) {
  std::vector<double> g = n.gradient;
  const auto theta = n.net.parameters();
  const double l2_over_m = n.net.config().l2 / static_cast<double>(n.x.cols());
  if (bug == "sign flip of db2") {
    const TensorInfo t = layout_entry(n.net, "b2");
    for (std::size_t q = 0; q < t.rows; ++q) g[t.offset + q] *= -1;
  } else if (bug == "dW1 doubled") {
    const TensorInfo t = layout_entry(n.net, "W1");
    for (std::size_t q = 0; q < t.rows * t.cols; ++q) g[t.offset + q] *= 2;
  } else if (bug == "missing L2 derivative") {
    for (const TensorInfo& t : n.net.tensors())
      if (t.name[0] == 'W')
        for (std::size_t q = 0; q < t.rows * t.cols; ++q) g[t.offset + q] -= l2_over_m * theta[t.offset + q];
  } else if (bug == "transposed dW2") {
    const TensorInfo t = layout_entry(n.net, "W2");
    for (std::size_t r = 0; r < t.rows; ++r)
      for (std::size_t k = 0; k < t.cols; ++k) g[t.offset + k * t.rows + r] = n.gradient[t.offset + r * t.cols + k];
  } else if (bug == "dW3 off by 1 %") {
    const TensorInfo t = layout_entry(n.net, "W3");
    for (std::size_t q = 0; q < t.rows * t.cols; ++q) g[t.offset + q] *= 1.01;
  }
  return g;
}

const char* const kBugs[] = {"sign flip of db2", "dW1 doubled", "missing L2 derivative", "transposed dW2",
                             "dW3 off by 1 %"};

}  // namespace

TEST_CASE("Taylor remainder: slope within 0.1 of 2 for right gradients, of 1 for each planted bug") {
  const test::LossCase& bce = test::kLossCases[0];
  const test::LossCase& ce = test::kLossCases[2];
  struct Shape {
    const test::LossCase* loss;
    Activation hidden;
  };
  for (const Shape shape : {Shape{&bce, Activation::tanh}, Shape{&ce, Activation::relu}, Shape{&ce, Activation::gelu},
                            Shape{&bce, Activation::sigmoid}}) {
    const Network n = make_network(*shape.loss, shape.hidden, {6, 5, 5}, 12, 0.4);
    const std::string name = std::string(shape.loss->name) + "/" + std::string(activation_name(shape.hidden));
    CAPTURE(name);
    const GradcheckReport right = gradcheck(n.net, n.x.view(), n.y.view(), n.gradient, directional_options());
    INFO(right.to_text());
    CHECK(right.verdict == Verdict::great);
    REQUIRE(right.taylor.steps.size() == 16);
    CHECK(std::abs(right.taylor.slope - 2) <= 0.1);
    CHECK(right.taylor.agreement == Agreement::agree);
    CHECK(right.taylor.fit_last - right.taylor.fit_first >= 3);
    for (const TensorCheck& t : right.tensors) CHECK(t.taylor.steps.empty());  // only failing tensors get one
    for (const char* bug : kBugs) {
      CAPTURE(bug);
      const std::vector<double> g = planted(n, bug);
      const GradcheckReport wrong = gradcheck(n.net, n.x.view(), n.y.view(), g, directional_options());
      INFO(wrong.to_text());
      CHECK(std::abs(wrong.taylor.slope - 1) <= 0.1);
      CHECK(wrong.taylor.agreement == Agreement::disagree);
      // Each tensor the difference check flags has its own test along its restriction, which convicts it.
      for (const TensorCheck& t : wrong.tensors)
        if (t.verdict == Verdict::wrong) {
          CAPTURE(t.name);
          CHECK(std::abs(t.taylor.slope - 1) <= 0.1);
        }
    }
  }
}

TEST_CASE("Taylor remainder through the generic API: a known function, right and with a term missing") {
  // J(θ) = Σ log(1 + θᵢ²) + (Σ θᵢ)²/2: dJ/dθᵢ = 2θᵢ/(1 + θᵢ²) + Σ θ.
  const std::vector<double> theta = test::uniform<double>(40, 11, -2, 2);
  auto f = [](std::span<const double> x) {
    double logs = 0, sum = 0;
    for (double v : x) {
      logs += std::log1p(v * v);
      sum += v;
    }
    return logs + sum * sum / 2;
  };
  double sum = 0;
  for (double v : theta) sum += v;
  std::vector<double> right(theta.size()), wrong(theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) {
    right[i] = 2 * theta[i] / (1 + theta[i] * theta[i]) + sum;
    wrong[i] = i < 20 ? right[i] : right[i] - sum;  // the second half forgets the coupling term
  }
  const std::vector<TensorInfo> layout{{"a", 0, 20, 1}, {"b", 20, 20, 1}};
  const GradcheckReport good = gradcheck(f, theta, right, layout, directional_options());
  INFO(good.to_text());
  CHECK(std::abs(good.taylor.slope - 2) <= 0.1);
  const GradcheckReport bad = gradcheck(f, theta, wrong, layout, directional_options());
  INFO(bad.to_text());
  CHECK(std::abs(bad.taylor.slope - 1) <= 0.1);
  CHECK(bad.tensors[0].verdict == Verdict::great);
  CHECK(bad.tensors[1].verdict == Verdict::wrong);
  CHECK(std::abs(bad.tensors[1].taylor.slope - 1) <= 0.1);
}

TEST_CASE("Taylor remainder: in the text and JSON reports, its steps cost one evaluation each, 0 steps switch it off") {
  const Network n = make_network(test::kLossCases[0], Activation::tanh, {4, 5, 5}, 8, 0.0);
  GradcheckOptions options = directional_options();
  options.directions = 3;
  const GradcheckReport r = gradcheck(n.net, n.x.view(), n.y.view(), n.gradient, options);
  CHECK(r.to_text().find("Taylor remainder") != std::string::npos);
  CHECK(r.to_json().find("\"taylor\"") != std::string::npos);
  const std::size_t tensors = n.net.tensors().size();
  CHECK(r.evaluations == 2 + 2 * 3 * (1 + tensors) + options.taylor_steps);
  options.taylor_steps = 0;
  const GradcheckReport none = gradcheck(n.net, n.x.view(), n.y.view(), n.gradient, options);
  CHECK(none.taylor.steps.empty());
  CHECK(none.to_json().find("\"taylor\"") == std::string::npos);
  CHECK(none.evaluations == 2 + 2 * 3 * (1 + tensors));
  // The steps shrink by √10 from taylor_largest_step.
  CHECK(r.taylor.steps.front() == 0.1);
  CHECK(r.taylor.steps[2] == doctest::Approx(0.01).epsilon(1e-15));
}
