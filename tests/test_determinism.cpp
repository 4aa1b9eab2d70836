// Determinism across thread counts: gemm, normalization, Mlp::forward_backward, a few training
// steps and gradcheck give the same bits at 1, 2, 3 and 4 threads, and at 16 when
// MLPKIT_TEST_MAX_THREADS allows it or the machine has 16 cores. Problem sizes are chosen so that
// every kernel really splits its work (several tiles, chunks or column blocks per thread).
#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "mlpkit/normalization.hpp"
#include "mlpkit/train.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

/** 1, 2, 3, 4, plus 16 where MLPKIT_TEST_MAX_THREADS ≥ 16 or the machine has ≥ 16 cores. */
std::vector<int> thread_counts() {
  std::vector<int> counts{1, 2, 3, 4};
  unsigned limit = std::thread::hardware_concurrency();
  if (const char* env = std::getenv("MLPKIT_TEST_MAX_THREADS")) limit = static_cast<unsigned>(std::atoi(env));
  if (limit >= 16) counts.push_back(16);
  return counts;
}

/** Runs compute() at every thread count and checks each result equals the 1-thread one exactly. */
template <class Compute>
void check_same_at_every_thread_count(Compute&& compute) {
  const auto counts = thread_counts();
  decltype(compute()) first{};
  for (int threads : counts) {
    CAPTURE(threads);
    test::ScopedThreads scoped(threads);
    auto result = compute();
    if (threads == counts.front())
      first = std::move(result);
    else
      REQUIRE(result == first);
  }
}

MlpConfig<double> small_network() {
  MlpConfig<double> c;
  c.dims = {12, 48, 24, 3};
  c.hidden = Activation::relu;
  c.output = Activation::identity;
  c.loss = Loss::cross_entropy;
  c.l2 = 0.05;
  c.keep_prob = 0.9;
  c.seed = 7;
  return c;
}

std::vector<double> one_hot(std::size_t classes, std::size_t m) {
  std::vector<double> y(classes * m, 0.0);
  for (std::size_t j = 0; j < m; ++j) y[(j * 7 % classes) * m + j] = 1.0;
  return y;
}

}  // namespace

TEST_CASE_TEMPLATE("gemm is bitwise identical at 1, 2, 3, 4 (and 16) threads under every ISA", T, float, double) {
  const std::size_t m = 301, n = 517, k = 263;
  const auto a = test::uniform<T>(m * k, 31), b = test::uniform<T>(n * k, 32), bias = test::uniform<T>(m, 33);
  test::for_each_isa([&](Isa) {
    check_same_at_every_thread_count([&] {
      std::vector<T> c = test::uniform<T>(m * n, 34), pre(m * n);
      Epilogue<T> e;
      e.bias = bias.data();
      e.activation = Activation::tanh;
      e.pre_activation = {pre.data(), m, n, n};
      gemm<T>(Trans::no, Trans::yes, T(0.75), {a.data(), m, k, k}, {b.data(), n, k, k}, T(-0.5), {c.data(), m, n, n}, e);
      std::vector<T> plain(n * n);
      gemm<T>(Trans::yes, Trans::no, n, n, k, T(1), b.data(), n, b.data(), n, T(0), plain.data(), n);
      c.insert(c.end(), pre.begin(), pre.end());
      c.insert(c.end(), plain.begin(), plain.end());
      return c;
    });
  });
}

TEST_CASE_TEMPLATE("dot, sum and axpy are bitwise identical at every thread count under every ISA", T, float, double) {
  const std::size_t n = 100003;  // 25 reduction chunks
  const auto x = test::uniform<T>(n, 11), y = test::uniform<T>(n, 12);
  test::for_each_isa([&](Isa) {
    check_same_at_every_thread_count([&] {
      std::vector<T> z = y;
      axpy(T(-1.25), x.data(), z.data(), n);
      z.push_back(dot(x.data(), y.data(), n));
      z.push_back(sum(x.data(), n));
      return z;
    });
  });
}

TEST_CASE_TEMPLATE("standardization, batch norm and layer norm are bitwise identical at every thread count", T, float, double) {
  const std::size_t n = 9, m = 40000;  // several fit chunks and transform segments per feature
  const auto x = test::uniform<T>(n * m, 41, -100, 300);
  const auto dy = test::uniform<T>(n * m, 42);
  const std::vector<T> gamma(n, T(1.25)), beta(n, T(-0.5));
  test::for_each_isa([&](Isa) { check_same_at_every_thread_count([&] {
    Standardizer<T> s;
    s.fit({x.data(), n, m, m});
    Standardizer<T> partial;
    partial.partial_fit({x.data(), n, m / 3, m});
    partial.partial_fit({x.data() + m / 3, n, m - m / 3, m});
    std::vector<T> out(n * m);
    s.transform({x.data(), n, m, m}, {out.data(), n, m, m});
    out.insert(out.end(), s.mean().begin(), s.mean().end());
    out.insert(out.end(), s.variance().begin(), s.variance().end());
    out.insert(out.end(), partial.mean().begin(), partial.mean().end());
    out.insert(out.end(), partial.variance().begin(), partial.variance().end());

    std::vector<T> running_mean(n, T(0)), running_var(n, T(1)), y(n * m), dx(n * m), dgamma(n), dbeta(n);
    NormalizationCache<T> cache;
    batch_norm_forward<T>({x.data(), n, m, m}, gamma, beta, running_mean, running_var, {y.data(), n, m, m}, cache);
    batch_norm_backward<T>({x.data(), n, m, m}, {dy.data(), n, m, m}, gamma, cache, {dx.data(), n, m, m}, dgamma, dbeta);
    for (const auto* part : {&y, &dx, &dgamma, &dbeta, &running_mean, &running_var}) out.insert(out.end(), part->begin(), part->end());
    layer_norm_forward<T>({x.data(), n, m, m}, gamma, beta, {y.data(), n, m, m}, cache, LayerNormOptions<T>{T(1e-5)});
    layer_norm_backward<T>({x.data(), n, m, m}, {dy.data(), n, m, m}, gamma, cache, {dx.data(), n, m, m}, dgamma, dbeta);
    for (const auto* part : {&y, &dx, &dgamma, &dbeta}) out.insert(out.end(), part->begin(), part->end());
    return out;
  }); });
}

TEST_CASE("forward_backward, loss and predict of an Mlp are bitwise identical at every thread count") {
  const std::size_t m = 700;
  const auto x = test::uniform<double>(12 * m, 51);
  const auto y = one_hot(3, m);
  test::for_each_isa([&](Isa) { check_same_at_every_thread_count([&] {
    Mlp<double> net(small_network());
    net.set_step(3);
    std::vector<double> out(net.parameters().begin(), net.parameters().end());  // initialization
    out.push_back(net.forward_backward({x.data(), 12, m, m}, {y.data(), 3, m, m}));
    out.insert(out.end(), net.gradients().begin(), net.gradients().end());
    out.push_back(net.loss({x.data(), 12, m, m}, {y.data(), 3, m, m}));
    const Matrix<double> p = net.predict({x.data(), 12, m, m});
    for (std::size_t i = 0; i < p.rows(); ++i) out.insert(out.end(), &p(i, 0), &p(i, 0) + p.cols());
    // The float model too.
    Mlp<float> single(net);
    const std::vector<float> xf(x.begin(), x.end()), yf(y.begin(), y.end());
    out.push_back(single.forward_backward({xf.data(), 12, m, m}, {yf.data(), 3, m, m}));
    out.insert(out.end(), single.gradients().begin(), single.gradients().end());
    return out;
  }); });
}

TEST_CASE_TEMPLATE("forward_backward and loss are bitwise identical at every thread count on every backward path", T,
                   float, double) {
  // An odd batch (threads' column shares end mid-row and mid-vector) and every path of backward:
  // the derivative from A (relu without dropout), from Z (tanh; relu with dropout), leaky ReLU.
  const std::size_t m = 277;
  const auto x = test::uniform<T>(7 * m, 11), y = test::uniform<T>(2 * m, 12);
  for (const Activation hidden : {Activation::relu, Activation::tanh, Activation::leaky_relu}) {
    for (const T keep_prob : {T(1), T(0.75)}) {
      CAPTURE(static_cast<int>(hidden));
      CAPTURE(keep_prob);
      MlpConfig<T> config;
      config.dims = {7, 40, 33, 2};
      config.hidden = hidden;
      config.output = Activation::identity;
      config.loss = Loss::mean_squared_error;
      config.l2 = T(0.3);
      config.keep_prob = keep_prob;
      config.init = Init::xavier;
      check_same_at_every_thread_count([&] {
        Mlp<T> net(config);
        net.set_step(5);
        std::vector<T> out{net.forward_backward({x.data(), 7, m, m}, {y.data(), 2, m, m}),
                           net.loss({x.data(), 7, m, m}, {y.data(), 2, m, m})};
        out.insert(out.end(), net.gradients().begin(), net.gradients().end());
        return out;
      });
    }
  }
}

TEST_CASE("losses are bitwise identical at every thread count") {
  const std::size_t m = 5001;
  const auto z = test::uniform<double>(3 * m, 9, -5.0, 5.0);
  std::vector<double> y(3 * m, 0.0);
  for (std::size_t j = 0; j < m; ++j) y[(j % 3) * m + j] = 1;
  check_same_at_every_thread_count([&] {
    const MatrixView<const double> zv{z.data(), 3, m, m}, yv{y.data(), 3, m, m};
    std::vector<double> dz(3 * m);
    std::vector<double> out{cross_entropy_with_logits<double>(zv, yv), binary_cross_entropy_with_logits<double>(zv, yv),
                            cross_entropy_with_logits<double>(zv, yv, {dz.data(), 3, m, m})};
    out.insert(out.end(), dz.begin(), dz.end());
    return out;
  });
}

TEST_CASE("a few training steps with mini-batches and Adam end at the same bits at every thread count") {
  const std::size_t m = 512;
  const auto x = test::uniform<double>(12 * m, 61);
  const auto y = one_hot(3, m);
  check_same_at_every_thread_count([&] {
    Mlp<double> net(small_network());
    TrainOptions options;
    options.optimizer = Optimizer::adam;
    options.learning_rate = 0.01;
    options.epochs = 3;
    options.batch_size = 128;
    const TrainResult result = train(net, {x.data(), 12, m, m}, {y.data(), 3, m, m}, options);
    std::vector<double> out(net.parameters().begin(), net.parameters().end());
    out.insert(out.end(), result.iteration_loss.begin(), result.iteration_loss.end());
    return out;
  });
}

TEST_CASE("gradcheck reports are bitwise identical at every thread count, in every mode") {
  const std::size_t m = 20;
  const auto x = test::uniform<double>(12 * m, 71);
  const auto y = one_hot(3, m);
  Mlp<double> net(small_network());
  for (GradcheckMode mode : {GradcheckMode::full, GradcheckMode::sampled, GradcheckMode::directional}) {
    CAPTURE(gradcheck_mode_name(mode));
    check_same_at_every_thread_count([&] {
      GradcheckOptions options;
      options.mode = mode;
      const GradcheckReport report = gradcheck(net, {x.data(), 12, m, m}, {y.data(), 3, m, m}, options);
      std::vector<double> out = report.numeric_gradient;
      out.push_back(report.relative_error);
      for (const TensorCheck& t : report.tensors) out.push_back(t.relative_error);
      out.insert(out.end(), report.directional_numeric.begin(), report.directional_numeric.end());
      // NaN marks unchecked entries in sampled mode: compare bits, not values.
      for (double& v : out)
        if (std::isnan(v)) v = -12345.0;
      return out;
    });
  }
  // The threads option of the check itself gives the same report as the global setting.
  GradcheckOptions one, four;
  one.threads = 1;
  four.threads = 4;
  const auto r1 = gradcheck(net, {x.data(), 12, m, m}, {y.data(), 3, m, m}, one);
  const auto r4 = gradcheck(net, {x.data(), 12, m, m}, {y.data(), 3, m, m}, four);
  CHECK(r1.relative_error == r4.relative_error);
  CHECK(r1.numeric_gradient == r4.numeric_gradient);
}
