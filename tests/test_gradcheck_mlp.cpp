// gradcheck of an Mlp: every smooth activation × loss with L2 and dropout, incremental = naive,
// injected bugs named in their tensor, thread counts, kinks, float models, modes, bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "gradcheck_test_support.hpp"
#include "mlp_test_support.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) { return test::same_bits(a, b); }

}  // namespace

namespace {

/** A small model and a batch whose labels suit its loss. */
struct MlpCase {
  Mlp<double> net;
  Matrix<double> x, y;
};

MlpCase make_case(Activation hidden, Loss loss, double l2, double keep_prob, std::vector<std::size_t> dims = {4, 6, 5, 0},
                  std::size_t m = 9, std::uint64_t seed = 3) {
  MlpConfig<double> config;
  if (dims.back() == 0) dims.back() = loss == Loss::binary_cross_entropy ? 1 : 3;
  config.dims = dims;
  config.hidden = hidden;
  config.loss = loss;
  config.output = loss == Loss::binary_cross_entropy ? Activation::sigmoid
                  : loss == Loss::cross_entropy      ? Activation::identity
                                                     : Activation::tanh;
  config.init = Init::xavier;
  config.l2 = l2;
  config.keep_prob = keep_prob;
  config.seed = seed;
  MlpCase c{Mlp<double>(config), Matrix<double>(dims.front(), m), Matrix<double>(dims.back(), m)};
  c.net.set_step(5);
  // Biases away from 0 so the check also covers them properly.
  for (const TensorInfo& t : c.net.tensors())
    if (t.name[0] == 'b')
      for (std::size_t q = 0; q < t.rows; ++q) c.net.parameters()[t.offset + q] = 0.1 * double(q % 3) - 0.05;
  const auto xs = test::uniform<double>(dims.front() * m, seed + 1, -1.5, 1.5);
  for (std::size_t r = 0; r < dims.front(); ++r)
    for (std::size_t j = 0; j < m; ++j) c.x(r, j) = xs[r * m + j];
  const auto ys = test::uniform<double>(dims.back() * m, seed + 2, -0.8, 0.8);
  for (std::size_t j = 0; j < m; ++j)
    for (std::size_t r = 0; r < dims.back(); ++r) {
      if (loss == Loss::binary_cross_entropy) c.y(r, j) = (j + r) % 2 == 0 ? 1.0 : 0.0;
      else if (loss == Loss::cross_entropy) c.y(r, j) = r == j % dims.back() ? 1.0 : 0.0;
      else c.y(r, j) = ys[r * m + j];
    }
  return c;
}

const TensorCheck& tensor_named(const GradcheckReport& r, const std::string& name) {
  for (const TensorCheck& t : r.tensors)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  return r.tensors.front();
}

}  // namespace

TEST_CASE("gradcheck of a correct Mlp is great for every smooth activation and loss, with L2 and with dropout") {
  for (Activation hidden : {Activation::sigmoid, Activation::tanh, Activation::gelu, Activation::identity})
    for (Loss loss : {Loss::binary_cross_entropy, Loss::cross_entropy, Loss::mean_squared_error})
      for (const auto& setting : {std::pair{0.0, 1.0}, std::pair{0.4, 1.0}, std::pair{0.4, 0.7}}) {
        const double l2 = setting.first, keep_prob = setting.second;  // not a structured binding: clang 14 cannot capture one in INFO
        MlpCase c = make_case(hidden, loss, l2, keep_prob);
        const GradcheckReport r = gradcheck(c.net, c.x.view(), c.y.view());
        INFO(activation_name(hidden) << " loss " << int(loss) << " l2 " << l2 << " keep " << keep_prob << "\n"
                                     << r.to_text());
        CHECK(r.verdict == Verdict::great);
        CHECK(r.checked == c.net.parameter_count());
        CHECK(r.tensors.size() == 2 * c.net.layers());
      }
}

TEST_CASE("gradcheck of an Mlp: the incremental evaluator equals the naive loop entry by entry") {
  for (Activation hidden : {Activation::relu, Activation::tanh, Activation::leaky_relu})
    for (const auto& setting : {std::pair{0.0, 1.0}, std::pair{0.5, 0.75}})
    for (Loss loss : {Loss::binary_cross_entropy, Loss::cross_entropy, Loss::mean_squared_error}) {
      const double l2 = setting.first, keep_prob = setting.second;  // not a structured binding: clang 14 cannot capture one in INFO
      MlpCase c = make_case(hidden, loss, l2, keep_prob, {5, 9, 8, 4, 0}, 11);
      GradcheckOptions options;
      // ε = 1e-3 keeps the rounding of J (≈ 1e-16·J / ε) far below the 1e-9 compared; both
      // evaluators then take the same finite difference of the same function.
      options.eps = 1e-3;
      options.evaluator = GradcheckEvaluator::naive;
      const GradcheckReport naive = gradcheck(c.net, c.x.view(), c.y.view(), options);
      options.evaluator = GradcheckEvaluator::incremental;
      const GradcheckReport incremental = gradcheck(c.net, c.x.view(), c.y.view(), options);
      INFO(activation_name(hidden) << " l2 " << l2 << " keep " << keep_prob << " loss " << int(loss));
      REQUIRE(naive.numeric_gradient.size() == incremental.numeric_gradient.size());
      std::size_t bad = 0;
      for (std::size_t i = 0; i < naive.numeric_gradient.size(); ++i) {
        const double a = naive.numeric_gradient[i], b = incremental.numeric_gradient[i];
        if (!(std::abs(a - b) <= 1e-9 * std::abs(a) + 1e-12)) ++bad;
      }
      CHECK(bad == 0);
    }
}

TEST_CASE("gradcheck of an Mlp names each injected bug in its tensor with its fingerprint") {
  MlpCase c = make_case(Activation::tanh, Loss::binary_cross_entropy, 0.6, 1.0, {4, 5, 5, 1}, 8);
  Mlp<double> trained = c.net;
  trained.forward_backward(c.x.view(), c.y.view());
  const std::vector<double> good(trained.gradients().begin(), trained.gradients().end());
  const auto theta = c.net.parameters();
  const std::vector<TensorInfo> layout = c.net.tensors();
  const double l2_over_m = 0.6 / 8;
  auto check_only = [&](const std::vector<double>& g, const std::string& name, Fingerprint fingerprint) {
    test::expect_only_wrong(gradcheck(c.net, c.x.view(), c.y.view(), g), name, fingerprint);
  };
  CHECK(gradcheck(c.net, c.x.view(), c.y.view(), good).verdict == Verdict::great);
  SUBCASE("sign flip of db2") {
    std::vector<double> g = good;
    for (std::size_t q = 0; q < layout[3].rows; ++q) g[layout[3].offset + q] *= -1;
    check_only(g, "b2", Fingerprint::sign_flip);
  }
  SUBCASE("missing 1/m in dW1") {
    std::vector<double> g = good;
    for (std::size_t q = 0; q < 20; ++q) g[q] = 8 * (g[q] - l2_over_m * theta[q]) + l2_over_m * theta[q];
    check_only(g, "W1", Fingerprint::factor_m);
  }
  SUBCASE("missing L2 derivative in every dW") {
    std::vector<double> g = good;
    for (const TensorInfo& t : layout)
      if (t.name[0] == 'W')
        for (std::size_t q = 0; q < t.rows * t.cols; ++q) g[t.offset + q] -= l2_over_m * theta[t.offset + q];
    const GradcheckReport r = gradcheck(c.net, c.x.view(), c.y.view(), g);
    INFO(r.to_text());
    for (const TensorCheck& t : r.tensors) {
      CHECK(t.verdict == (t.name[0] == 'W' ? Verdict::wrong : Verdict::great));
      if (t.name[0] == 'W') CHECK(t.fingerprint == Fingerprint::missing_l2);
    }
  }
  SUBCASE("transposed dW2") {
    std::vector<double> g = good;
    const TensorInfo& t = layout[2];
    for (std::size_t r = 0; r < t.rows; ++r)
      for (std::size_t k = 0; k < t.cols; ++k) g[t.offset + k * t.rows + r] = good[t.offset + r * t.cols + k];
    check_only(g, "W2", Fingerprint::transposed);
  }
}

TEST_CASE("gradcheck of an Mlp gives the same bits whatever checks ran before on the same threads") {
  // Each thread keeps the incremental evaluator's buffers from one check to the next (and hands
  // back those of a wide network): a check must not see what an earlier, different one left there.
  MlpCase narrow = make_case(Activation::relu, Loss::binary_cross_entropy, 0.2, 1.0, {5, 7, 6, 0}, 11);
  MlpCase wide = make_case(Activation::tanh, Loss::cross_entropy, 0.1, 0.8, {12, 300, 40, 0}, 64, 9);
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    GradcheckOptions options;
    options.threads = threads;
    const GradcheckReport first = gradcheck(narrow.net, narrow.x.view(), narrow.y.view(), options);
    const GradcheckReport big = gradcheck(wide.net, wide.x.view(), wide.y.view(), options);
    CHECK(big.verdict == Verdict::great);
    const GradcheckReport again = gradcheck(narrow.net, narrow.x.view(), narrow.y.view(), options);
    CHECK(bitwise_equal(first.numeric_gradient, again.numeric_gradient));
    CHECK(first.to_json() == again.to_json());
  }
}

TEST_CASE("gradcheck of a ReLU Mlp reports entries that straddle a kink apart, not as failures") {
  MlpCase c = make_case(Activation::relu, Loss::binary_cross_entropy, 0.0, 1.0, {3, 4, 1}, 5);
  // Put the pre-activation Z1[0][0] at 0: b1[0] = −W1[0]·x[:, 0].
  auto theta = c.net.parameters();
  double z = 0;
  for (std::size_t k = 0; k < 3; ++k) z += theta[k] * c.x(k, 0);
  theta[12] = -z;  // b1 follows W1 (4 × 3)
  const GradcheckReport r = gradcheck(c.net, c.x.view(), c.y.view());
  INFO(r.to_text());
  CHECK(!r.kinks.empty());
  CHECK(tensor_named(r, "b1").kinks == 1);
  CHECK(r.kinks.front().layer == 1);
  CHECK(r.kinks.front().row == 0);
  CHECK(r.verdict == Verdict::great);
}

TEST_CASE("gradcheck of a float Mlp compares its float gradient with a double copy's numeric one") {
  Mlp<float> net(test::tanh_classifier<float>({4, 8, 6, 1}, 0.2f, 9));
  Matrix<float> x(4, 16), y(1, 16);
  const auto xs = test::uniform<float>(64, 4);
  for (std::size_t r = 0; r < 4; ++r)
    for (std::size_t j = 0; j < 16; ++j) x(r, j) = xs[r * 16 + j];
  for (std::size_t j = 0; j < 16; ++j) y(0, j) = j % 3 == 0 ? 1.0f : 0.0f;
  const GradcheckReport r = gradcheck(net, x.view(), y.view());
  INFO(r.to_text());
  CHECK(r.verdict == Verdict::great);
  CHECK(r.relative_error > 1e-9);  // the float side is really float
  CHECK(r.relative_error < 1e-4);
  // ridders' bounds are double-tight: the float gradient's own rounding must not read as a bug.
  GradcheckOptions options;
  options.scheme = DifferenceScheme::ridders;
  const GradcheckReport extrapolated = gradcheck(net, x.view(), y.view(), options);
  INFO(extrapolated.to_text());
  CHECK(extrapolated.agreement != Agreement::disagree);
  options.analytic_roundoff = 0x1p-52;  // (not the default 2⁻⁵³, which the overload replaces) float rounding is then far outside
  CHECK(gradcheck(net, x.view(), y.view(), options).agreement == Agreement::disagree);
}

TEST_CASE("gradcheck of an Mlp in sampled and directional modes") {
  MlpCase c = make_case(Activation::tanh, Loss::mean_squared_error, 0.2, 0.9, {6, 10, 8, 3}, 7);
  GradcheckOptions options;
  options.mode = GradcheckMode::sampled;
  options.samples_per_tensor = 6;
  const GradcheckReport sampled = gradcheck(c.net, c.x.view(), c.y.view(), options);
  CHECK(sampled.verdict == Verdict::great);
  CHECK(sampled.coverage < 0.5);
  options.mode = GradcheckMode::directional;
  const GradcheckReport directional = gradcheck(c.net, c.x.view(), c.y.view(), options);
  INFO(directional.to_text());
  CHECK(directional.verdict == Verdict::great);
}

namespace {

/** The median over the entries of |num − ana| / |ana| (entries with ana = 0 left out). */
double median_relative_error(const GradcheckReport& r, std::span<const double> analytic) {
  std::vector<double> errors;
  for (std::size_t i = 0; i < analytic.size(); ++i)
    if (analytic[i] != 0) errors.push_back(std::abs(r.numeric_gradient[i] - analytic[i]) / std::abs(analytic[i]));
  std::nth_element(errors.begin(), errors.begin() + errors.size() / 2, errors.end());
  return errors[errors.size() / 2];
}

}  // namespace

TEST_CASE("ridders on smooth Mlps: every entry agrees, median relative error <= 1e-12 at 6x the evaluations of central") {
  for (Activation hidden : {Activation::tanh, Activation::sigmoid, Activation::gelu})
    for (Loss loss : {Loss::binary_cross_entropy, Loss::cross_entropy}) {
      MlpCase c = make_case(hidden, loss, 0.4, 1.0);
      Mlp<double> copy = c.net;
      copy.forward_backward(c.x.view(), c.y.view());
      const std::vector<double> analytic(copy.gradients().begin(), copy.gradients().end());
      GradcheckOptions options;
      const GradcheckReport central = gradcheck(c.net, c.x.view(), c.y.view(), options);
      options.scheme = DifferenceScheme::ridders;
      const GradcheckReport r = gradcheck(c.net, c.x.view(), c.y.view(), options);
      INFO(activation_name(hidden) << " loss " << int(loss) << "\n" << r.to_text());
      CHECK(r.verdict == Verdict::great);
      CHECK(r.agreement == Agreement::agree);
      CHECK(median_relative_error(r, analytic) <= 1e-12);
      CHECK(median_relative_error(r, analytic) < median_relative_error(central, analytic));
      CHECK(r.evaluations - 2 <= 6 * (central.evaluations - 2));
    }
}

TEST_CASE("ridders on an Mlp names the one tensor whose gradient is off by 1e-6, which central calls great") {
  MlpCase c = make_case(Activation::tanh, Loss::cross_entropy, 0.0, 1.0);
  Mlp<double> copy = c.net;
  copy.forward_backward(c.x.view(), c.y.view());
  std::vector<double> analytic(copy.gradients().begin(), copy.gradients().end());
  const TensorInfo w2 = c.net.tensors()[2];
  for (std::size_t q = 0; q < w2.rows * w2.cols; ++q) analytic[w2.offset + q] *= 1 + 1e-6;
  GradcheckOptions options;
  for (const GradcheckEvaluator evaluator : {GradcheckEvaluator::incremental, GradcheckEvaluator::naive}) {
    options.evaluator = evaluator;
    options.scheme = DifferenceScheme::central;
    CHECK(gradcheck(c.net, c.x.view(), c.y.view(), analytic, options).verdict == Verdict::great);
    options.scheme = DifferenceScheme::ridders;
    const GradcheckReport r = gradcheck(c.net, c.x.view(), c.y.view(), analytic, options);
    INFO(r.to_text());
    for (const TensorCheck& t : r.tensors) {
      CAPTURE(t.name);
      CHECK(t.agreement == (t.name == "W2" ? Agreement::disagree : Agreement::agree));
    }
  }
}
