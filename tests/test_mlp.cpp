// The MLP model: backprop against finite differences, dropout, layout, precision, determinism, bad input.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>
#include <vector>

#include "mlp_test_support.hpp"
#include "mlpkit/mlpkit.hpp"
#include "model/mlp_loss.hpp"
#include "model/random.hpp"
#include "test_support.hpp"

using namespace mlpkit;
using namespace mlpkit::test;
using doctest::Contains;

namespace {

// Biases start at 0; random ones make their gradients (and the kinks they shift) non-trivial.
void randomize_biases(Mlp<double>& net, std::uint64_t seed) {
  for (std::size_t l = 1; l <= net.layers(); ++l) {
    const auto b = net.bias(l);
    const auto values = test::uniform<double>(b.rows, seed + l, -0.5, 0.5);
    for (std::size_t i = 0; i < b.rows; ++i) b(i, 0) = values[i];
  }
}

// dθ_approx[i] = (J(θ + ε eᵢ) − J(θ − ε eᵢ)) / 2ε for every i.
std::vector<double> numeric_gradient(Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                                     double eps = 1e-6) {
  MlpWorkspace<double> ws;
  const auto theta = net.parameters();
  std::vector<double> out(theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) {
    const double saved = theta[i];
    theta[i] = saved + eps;
    const double plus = net.loss(x, y, ws);
    theta[i] = saved - eps;
    const double minus = net.loss(x, y, ws);
    theta[i] = saved;
    out[i] = (plus - minus) / (2 * eps);
  }
  return out;
}

// ‖a − b‖ / (‖a‖ + ‖b‖), the course's figure.
double relative_error(std::span<const double> a, std::span<const double> b) {
  double diff = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return std::sqrt(diff) / (std::sqrt(na) + std::sqrt(nb));
}

}  // namespace

TEST_CASE("Philox4x32-10 reproduces Random123's known-answer vectors") {
  using detail::philox4x32;
  CHECK(philox4x32({0, 0}, {0, 0, 0, 0}) == detail::PhiloxCounter{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(philox4x32({0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}) ==
        detail::PhiloxCounter{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(philox4x32({0xa4093822u, 0x299f31d0u}, {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}) ==
        detail::PhiloxCounter{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("backprop matches central differences for every hidden activation and loss, with and without L2, in both tiers") {
  const std::size_t m = 7;
  for (const LossCase& c : kLossCases) {
    for (Activation hidden : kHidden) {
      for (const auto& l2_and_tier : {std::pair{0.0, Accuracy::precise}, {0.7, Accuracy::precise}, {0.0, Accuracy::fast}}) {
        // Copies, not structured bindings: clang 14 cannot capture those in doctest's CAPTURE lambdas.
        const auto l2 = l2_and_tier.first;
        const auto tier = l2_and_tier.second;
        CAPTURE(c.name);
        CAPTURE(activation_name(hidden));
        CAPTURE(l2);
        CAPTURE(accuracy_name(tier));
        auto config = make_config<double>(c, hidden, {4, 5, 3});
        config.l2 = l2;
        config.accuracy = tier;
        Mlp<double> net(config);
        randomize_biases(net, 7);
        const auto x = random_matrix<double>(4, m, 3, -2, 2);
        const auto y = labels_for<double>(c.loss, c.outputs, m, 5);
        const double cost = net.forward_backward(x, y);
        CHECK(cost == net.loss(x, y));
        const auto numeric = numeric_gradient(net, x, y);
        CHECK(relative_error(numeric, net.gradients()) < 1e-7);
      }
    }
  }
}

TEST_CASE("the gradient check can fail: leaving out the L2 derivative shows as a large error") {
  auto config = make_config<double>(kLossCases[0], Activation::tanh, {4, 5});
  config.l2 = 0.7;
  Mlp<double> with_l2(config);
  config.l2 = 0;
  Mlp<double> without_l2(config);
  const auto x = random_matrix<double>(4, 6, 3);
  const auto y = labels_for<double>(Loss::binary_cross_entropy, 1, 6, 5);
  without_l2.forward_backward(x, y);
  CHECK(relative_error(numeric_gradient(with_l2, x, y), without_l2.gradients()) > 1e-3);
}

TEST_CASE("backprop matches central differences with dropout at a fixed step") {
  for (const LossCase& c : {kLossCases[0], kLossCases[2], kLossCases[4]}) {
    CAPTURE(c.name);
    Mlp<double> net = with_dropout<double>(c, Activation::tanh, {5, 8, 6}, 0.6, 0.3, 17);
    randomize_biases(net, 9);
    const std::size_t m = 9;
    const auto x = random_matrix<double>(5, m, 4);
    const auto y = labels_for<double>(c.loss, c.outputs, m, 6);
    const double cost = net.forward_backward(x, y);
    CHECK(cost == net.loss(x, y));
    CHECK(relative_error(numeric_gradient(net, x, y), net.gradients()) < 1e-7);
    // Another step draws other masks, so J changes; the same step gives the same J again.
    net.set_step(18);
    CHECK(net.loss(x, y) != cost);
    net.set_step(17);
    CHECK(net.loss(x, y) == cost);
  }
}

TEST_CASE("dropout masks are a pure function of (seed, step, layer, unit, example) and keep about keep_prob") {
  std::size_t kept = 0, total = 0;
  for (std::size_t unit = 0; unit < 100; ++unit)
    for (std::size_t example = 0; example < 1000; ++example, ++total) {
      const bool keep = dropout_keep(3, 11, 1, unit, example, 0.8);
      kept += keep;
      if (example % 97 == 0) CHECK(dropout_keep(3, 11, 1, unit, example, 0.8) == keep);
    }
  // 100 000 Bernoulli(0.8) draws: the standard deviation of the fraction is 0.0013.
  CHECK(std::abs(static_cast<double>(kept) / static_cast<double>(total) - 0.8) < 0.006);
  CHECK(dropout_keep(3, 11, 1, 5, 5, 1.0));
  // The mask the model applies is the public one: dropped units are exactly the zeros of A[1].
  MlpConfig<double> config;
  config.dims = {3, 40, 1};
  config.keep_prob = 0.5;
  config.seed = 3;
  config.hidden = Activation::sigmoid;  // never 0 on its own
  Mlp<double> net(config);
  net.set_step(11);
  const auto x = random_matrix<double>(3, 13, 1);
  Matrix<double> a(40, 13);
  net.forward_layer(1, x, a.view(), 100);
  for (std::size_t i = 0; i < 40; ++i)
    for (std::size_t j = 0; j < 13; ++j) REQUIRE((a(i, j) != 0) == dropout_keep(3, 11, 1, i, 100 + j, 0.5));
}

TEST_CASE("forward_layer, data_loss and l2_penalty compose to loss()") {
  auto config = make_config<double>(kLossCases[2], Activation::relu, {6, 9, 7});
  config.keep_prob = 0.7;
  config.l2 = 0.2;
  Mlp<double> net(config);
  net.set_step(4);
  const std::size_t m = 10;
  const auto x = random_matrix<double>(6, m, 1);
  const auto y = labels_for<double>(Loss::cross_entropy, 3, m, 2);
  Matrix<double> a1(9, m), a2(7, m), z3(3, m);
  net.forward_layer(1, x, a1.view());
  net.forward_layer(2, a1, a2.view());
  net.forward_layer(3, a2, z3.view());
  const double composed = detail::data_loss(net, z3.view(), y.view()) + detail::l2_penalty(net, m);
  CHECK(composed == doctest::Approx(net.loss(x, y)).epsilon(1e-13));
}

TEST_CASE("loss_at evaluates J at other parameters without touching the model") {
  auto config = make_config<double>(kLossCases[1], Activation::tanh, {4, 6});
  config.keep_prob = 0.7;
  config.l2 = 0.5;
  Mlp<double> net(config);
  net.set_step(8);
  const auto x = random_matrix<double>(4, 9, 1);
  const auto y = labels_for<double>(Loss::binary_cross_entropy, 3, 9, 2);
  const double before = net.loss(x, y);
  std::vector<double> theta(net.parameters().begin(), net.parameters().end());
  for (double& t : theta) t *= 1.5;
  MlpWorkspace<double> ws;
  const double at = net.loss_at(theta, x, y, ws);
  CHECK(net.loss(x, y) == before);
  std::copy(theta.begin(), theta.end(), net.parameters().begin());
  CHECK(net.loss(x, y, ws) == at);
  CHECK(at != before);
}

TEST_CASE("parameters, tensors and the weight views share one layout") {
  MlpConfig<double> config = test::small_regression_config();
  Mlp<double> net(config);
  CHECK(net.parameter_count() == 4 * 3 + 4 + 2 * 4 + 2);
  const auto tensors = net.tensors();
  REQUIRE(tensors.size() == 4);
  CHECK(tensors[0].name == "W1");
  CHECK(tensors[1].name == "b1");
  CHECK(tensors[2].name == "W2");
  CHECK(tensors[3].name == "b2");
  CHECK(tensors[1].offset == 12);
  CHECK(tensors[2].offset == 16);
  CHECK(tensors[3].offset == 24);
  CHECK(tensors[2].rows == 2);
  CHECK(tensors[2].cols == 4);
  CHECK(net.weights(2).data == net.parameters().data() + 16);
  CHECK(net.bias(1).data == net.parameters().data() + 12);
  // W = c·I through θ: the course's vanishing/exploding example needs exactly this.
  config.dims = {3, 3, 3, 3};
  Mlp<double> deep(config);
  for (std::size_t l = 1; l <= 3; ++l) {
    const auto w = deep.weights(l);
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 3; ++j) w(i, j) = i == j ? 2.0 : 0.0;
  }
  const auto x = random_matrix<double>(3, 2, 4, 0.1, 1);
  const Matrix<double> out = deep.predict(x);
  for (std::size_t i = 0; i < 3; ++i) CHECK(out(i, 0) == doctest::Approx(8 * x(i, 0)));
}

TEST_CASE("an Mlp runs its activations in its accuracy tier, and gradcheck evaluates in precise unless asked") {
  MlpConfig<double> config;
  config.dims = {6, 9, 1};
  config.hidden = Activation::tanh;
  config.init = Init::xavier;
  config.accuracy = Accuracy::fast;
  Mlp<double> net(config);
  randomize_biases(net, 3);
  const std::size_t m = 40;
  const auto x = random_matrix<double>(6, m, 4, -3, 3);
  const auto y = labels_for<double>(Loss::binary_cross_entropy, 1, m, 5);
  // predict by hand: each layer's product, then activation_forward in the fast tier.
  Matrix<double> a = x;
  for (std::size_t l = 1; l <= net.layers(); ++l) {
    Matrix<double> z(config.dims[l], m);
    gemm(Trans::no, Trans::no, 1.0, net.weights(l), a.view(), 0.0, z.view(), Epilogue<double>{net.bias(l).data});
    activation_forward(l < net.layers() ? Activation::tanh : Activation::sigmoid, Accuracy::fast, z.data(), z.data(),
                       z.rows() * z.cols());
    a = std::move(z);
  }
  const Matrix<double> fast = net.predict(x);
  const Matrix<double> precise = Mlp<double>(net, Accuracy::precise).predict(x);
  std::size_t differ = 0;
  for (std::size_t j = 0; j < m; ++j) {
    CHECK(fast(0, j) == a(0, j));
    differ += fast(0, j) != precise(0, j);
  }
  CHECK(differ > 0);  // the tiers do differ, so the equality above says which one ran

  const GradcheckReport report = gradcheck(net, x, y);
  CHECK(report.model_accuracy == Accuracy::fast);
  CHECK(report.evaluated_accuracy == Accuracy::precise);
  CHECK(report.verdict == Verdict::great);
  CHECK(report.to_text().find("activations: model fast, evaluated precise") != std::string::npos);
  GradcheckOptions own_tier;
  own_tier.model_accuracy = true;
  const GradcheckReport in_model_tier = gradcheck(net, x, y, own_tier);
  CHECK(in_model_tier.evaluated_accuracy == Accuracy::fast);
  CHECK(in_model_tier.verdict == Verdict::great);
  CHECK(in_model_tier.to_json().find("\"evaluated_accuracy\": \"fast\"") != std::string::npos);
}

TEST_CASE("predict gives probabilities without dropout") {
  auto config = make_config<double>(kLossCases[2], Activation::relu, {4, 8});
  config.keep_prob = 0.5;
  Mlp<double> net(config);
  const auto x = random_matrix<double>(4, 5, 1);
  const Matrix<double> p = net.predict(x);
  for (std::size_t j = 0; j < 5; ++j) {
    double total = 0;
    for (std::size_t i = 0; i < 3; ++i) total += p(i, j);
    CHECK(total == doctest::Approx(1.0));
  }
  net.set_step(99);
  const Matrix<double> again = net.predict(x);
  CHECK(again(0, 0) == p(0, 0));
}

TEST_CASE("predict with a caller's workspace equals predict, batch 1 included, and keeps its buffers") {
  const auto config = make_config<double>(kLossCases[2], Activation::relu, {6, 16, 9});
  Mlp<double> net(config);
  MlpWorkspace<double> workspace;
  for (std::size_t m : {std::size_t(7), std::size_t(1), std::size_t(5)}) {
    CAPTURE(m);
    const auto x = random_matrix<double>(6, m, 2 + m);
    Matrix<double> out(3, m);
    net.predict(x, out.view(), workspace);
    const Matrix<double> fresh = net.predict(x);
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < m; ++j) CHECK(out(i, j) == fresh(i, j));
  }
}

TEST_CASE("a float model and its double copy agree on loss and gradients") {
  for (const LossCase& c : kLossCases) {
    CAPTURE(c.name);
    Mlp<float> net = with_dropout<float>(c, Activation::gelu, {6, 12, 8}, 0.9f, 0.1f, 3);
    Mlp<double> copy(net);
    CHECK(copy.step() == 3);
    const auto x = random_matrix<float>(6, 11, 1);
    const auto y = labels_for<float>(c.loss, c.outputs, 11, 2);
    Matrix<double> xd(6, 11), yd(c.outputs, 11);
    for (std::size_t i = 0; i < 6; ++i)
      for (std::size_t j = 0; j < 11; ++j) xd(i, j) = x(i, j);
    for (std::size_t i = 0; i < c.outputs; ++i)
      for (std::size_t j = 0; j < 11; ++j) yd(i, j) = y(i, j);
    const float cost = net.forward_backward(x, y);
    const double cost_double = copy.forward_backward(xd, yd);
    CHECK(double(cost) == doctest::Approx(cost_double).epsilon(1e-5));
    std::vector<double> float_gradient(net.gradients().begin(), net.gradients().end());
    CHECK(relative_error(float_gradient, copy.gradients()) < 1e-5);
  }
}

TEST_CASE_TEMPLATE("loss and predict on alternating buffers equal the cached forward pass of a deep, uneven network, in "
                   "both tiers",
                   T, float, double) {
  // loss() and predict() keep no cache for backward, so hidden layers write two buffers in turn;
  // widths that shrink and grow make a buffer regrow while the other holds the layer's input.
  for (const auto& keep_prob_and_tier : {std::pair{T(1), Accuracy::precise}, {T(0.8), Accuracy::precise},
                                       {T(1), Accuracy::fast}}) {
    // Copies, not structured bindings: clang 14 cannot capture those in doctest's CAPTURE lambdas.
    const auto keep_prob = keep_prob_and_tier.first;
    const auto tier = keep_prob_and_tier.second;
    CAPTURE(keep_prob);
    CAPTURE(accuracy_name(tier));
    MlpConfig<T> config;
    config.accuracy = tier;
    config.dims = {5, 9, 3, 17, 4, 11, 2, 3};
    config.hidden = Activation::tanh;
    config.output = Activation::identity;
    config.loss = Loss::mean_squared_error;
    config.keep_prob = keep_prob;
    config.init = Init::xavier;
    Mlp<T> net(config);
    for (std::size_t l = 1; l <= net.layers(); ++l)
      for (std::size_t i = 0; i < config.dims[l]; ++i) net.bias(l).data[i] = T(0.05) * static_cast<T>(i % 5) - T(0.1);
    const std::size_t m = 13;
    const auto x = random_matrix<T>(5, m, 21);
    const auto y = random_matrix<T>(3, m, 22);
    // The reference: layer by layer through forward_layer, each output in a matrix of its own.
    Matrix<T> a = x;
    for (std::size_t l = 1; l <= net.layers(); ++l) {
      Matrix<T> out(config.dims[l], m);
      net.forward_layer(l, a.view(), out.view());
      a = std::move(out);
    }
    const T reference = detail::data_loss(net, a.view(), y.view()) + detail::l2_penalty(net, m);
    MlpWorkspace<T> ws;
    CHECK(net.loss(x, y, ws) == reference);
    CHECK(net.loss(x, y, ws) == reference);  // warm workspace, buffers reused
    CHECK(net.forward_backward(x, y) == reference);
    if (keep_prob == T(1)) {  // predict never drops units
      const Matrix<T> p = net.predict(x);
      for (std::size_t i = 0; i < p.rows(); ++i)
        for (std::size_t j = 0; j < m; ++j) CHECK(p(i, j) == a(i, j));
    }
  }
}

