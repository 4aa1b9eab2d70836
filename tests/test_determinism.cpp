// Determinism across thread counts: gemm (every path), the activations, normalization,
// Mlp::forward_backward, a few training steps, gradcheck, check_vjp and check_hvp give the same bits
// at 1, 2, 3 and 4 threads, and at 16 when
// MLPKIT_TEST_MAX_THREADS allows it or the machine has 16 cores. Problem sizes are chosen so that
// every kernel really splits its work (several tiles, chunks or column blocks per thread).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "mlpkit/normalization.hpp"
#include "mlpkit/train.hpp"
#include "gemm_stored.hpp"
#include "mlp_test_support.hpp"
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

/** A classifier of `dims` (identity output, cross-entropy) with `hidden`, L2 and dropout. */
MlpConfig<double> classifier(std::vector<std::size_t> dims, Activation hidden, double l2, double keep_prob, std::uint64_t seed) {
  MlpConfig<double> c;
  c.dims = std::move(dims);
  c.hidden = hidden;
  c.output = Activation::identity;
  c.loss = Loss::cross_entropy;
  c.l2 = l2;
  c.keep_prob = keep_prob;
  c.seed = seed;
  return c;
}

MlpConfig<double> small_network() { return classifier({12, 48, 24, 3}, Activation::relu, 0.05, 0.9, 7); }

std::vector<double> one_hot(std::size_t classes, std::size_t m) {
  std::vector<double> y(classes * m, 0.0);
  for (std::size_t j = 0; j < m; ++j) y[(j * 7 % classes) * m + j] = 1.0;
  return y;
}

/** What gemm fuses into its output: nothing, bias + tanh (with Z kept), or bias + ReLU with Z kept. */
enum class Fused { none, bias_tanh, bias_tanh_pre, bias_relu_pre };

/** One shape for one gemm path: op(A) is m × k, op(B) k × n; B's ld the row or a power of two. */
struct GemmPath {
  Trans ta, tb;
  std::size_t m, n, k;
  bool pow2_b;
  Fused fused;
};

// Shapes where each path splits its work across threads: direct (wide, and narrow C split by rows)
// and packed (k beyond the direct path, or several tiles each way); skinny (few columns, few
// rows); small (square, ≤ 100).
constexpr GemmPath kGemmPaths[] = {
    {Trans::no, Trans::yes, 301, 517, 263, false, Fused::bias_tanh_pre},
    {Trans::yes, Trans::no, 517, 517, 263, false, Fused::none},
    {Trans::no, Trans::yes, 300, 523, 301, false, Fused::bias_relu_pre},
    {Trans::no, Trans::yes, 64, 1001, 64, false, Fused::bias_relu_pre},
    {Trans::no, Trans::yes, 517, 40, 70, false, Fused::bias_relu_pre},
    {Trans::no, Trans::yes, 203, 45, 1100, false, Fused::bias_relu_pre},
    {Trans::no, Trans::no, 1000, 1, 300, false, Fused::bias_tanh}, {Trans::yes, Trans::no, 1000, 1, 300, false, Fused::bias_tanh},
    {Trans::no, Trans::no, 777, 16, 64, false, Fused::bias_tanh}, {Trans::yes, Trans::no, 777, 16, 64, false, Fused::bias_tanh},
    {Trans::no, Trans::no, 1100, 16, 100, false, Fused::bias_tanh}, {Trans::yes, Trans::no, 1100, 16, 100, false, Fused::bias_tanh},
    {Trans::yes, Trans::no, 1100, 12, 100, false, Fused::bias_relu_pre},
    {Trans::yes, Trans::no, 1100, 6, 100, false, Fused::bias_relu_pre},
    {Trans::no, Trans::no, 3, 1100, 129, false, Fused::bias_tanh}, {Trans::yes, Trans::no, 3, 1100, 129, false, Fused::bias_tanh},
    {Trans::no, Trans::no, 17, 17, 17, true, Fused::none}, {Trans::no, Trans::yes, 17, 17, 17, true, Fused::none},
    {Trans::no, Trans::no, 64, 64, 64, true, Fused::none}, {Trans::no, Trans::yes, 64, 64, 64, true, Fused::none},
    {Trans::no, Trans::no, 100, 100, 100, true, Fused::none}, {Trans::no, Trans::yes, 100, 100, 100, true, Fused::none},
};

/** A report as one comparable value: its numbers bit for bit (NaN marks unchecked entries) and its JSON. */
struct ReportBits {
  std::vector<std::uint64_t> bits;
  std::string json;
  bool operator==(const ReportBits&) const = default;
};

ReportBits bits_of(const GradcheckReport& r) {
  ReportBits out{{}, r.to_json()};
  for (const std::vector<double>* v : {&r.numeric_gradient, &r.numeric_error_bound, &r.directional_numeric,
                                       &r.directional_analytic, &r.taylor.remainders})
    for (double d : *v) out.bits.push_back(std::bit_cast<std::uint64_t>(d));
  return out;
}

// J(θ) = Σ θᵢ² sin θᵢ₊₁ over 40 entries in two tensors, and its gradient with entry 3 planted wrong.
double chain(std::span<const double> t) {
  double j = 0;
  for (std::size_t i = 0; i + 1 < t.size(); ++i) j += t[i] * t[i] * std::sin(t[i + 1]);
  return j;
}

std::vector<double> chain_gradient_with_a_bug(const std::vector<double>& t) {
  std::vector<double> g(t.size(), 0.0);
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    g[i] += 2 * t[i] * std::sin(t[i + 1]);
    g[i + 1] += t[i] * t[i] * std::cos(t[i + 1]);
  }
  g[3] *= -1;
  return g;
}

GradcheckOptions with(GradcheckMode mode, DifferenceScheme scheme, GradcheckEvaluator evaluator = GradcheckEvaluator::incremental) {
  GradcheckOptions options;
  options.mode = mode;
  options.scheme = scheme;
  options.evaluator = evaluator;
  options.samples_per_tensor = 7;
  options.threads = num_threads();  // the check's own setting, the same as the global one
  return options;
}

}  // namespace

TEST_CASE_TEMPLATE("gemm's direct, packed, skinny and small paths are bitwise identical at every thread count under every ISA", T,
                   float, double) {
  for (const GemmPath& p : kGemmPaths) {
    CAPTURE(p.m);
    CAPTURE(p.n);
    CAPTURE(p.k);
    const bool ta = p.ta == Trans::yes, tb = p.tb == Trans::yes;
    const test::Stored<T> a(ta ? p.k : p.m, ta ? p.m : p.k, false, 31), b(tb ? p.n : p.k, tb ? p.k : p.n, p.pow2_b, 32);
    const test::Stored<T> c0(p.m, p.n, false, 34);
    const auto bias = test::uniform<T>(p.m, 33);
    test::for_each_isa([&](Isa) {
      check_same_at_every_thread_count([&] {
        test::Stored<T> c = c0, pre(p.m, p.n, false, 35);
        Epilogue<T> e;
        if (p.fused != Fused::none) e.bias = bias.data();
        if (p.fused == Fused::bias_tanh || p.fused == Fused::bias_tanh_pre) e.activation = Activation::tanh;
        if (p.fused == Fused::bias_tanh_pre) e.pre_activation = pre.view();
        if (p.fused == Fused::bias_relu_pre) e = Epilogue<T>{bias.data(), Activation::relu, T(0.01), pre.view()};
        gemm(p.ta, p.tb, T(1), a.view(), b.view(), T(0.5), c.view(), e);
        c.data.insert(c.data.end(), pre.data.begin(), pre.data.end());
        return c.data;
      });
    });
  }
}

TEST_CASE_TEMPLATE("activations are bitwise identical at every thread count under every ISA, in both tiers", T, float, double) {
  const std::size_t n = 100003;
  const auto x = test::uniform<T>(n, 17, -10.0, 10.0);
  const auto dy = test::uniform<T>(n, 18);
  for (const Accuracy accuracy : enum_values<Accuracy>()) {
    for (const Activation f : enum_values<Activation>()) {
      CAPTURE(activation_name(f));
      CAPTURE(accuracy_name(accuracy));
      test::for_each_isa([&](Isa) {
        check_same_at_every_thread_count([&] {
          std::vector<T> y(n), dx(n);
          activation_forward(f, accuracy, x.data(), y.data(), n, T(0.01));
          activation_backward(f, accuracy, x.data(), dy.data(), dx.data(), n, T(0.01));
          y.insert(y.end(), dx.begin(), dx.end());
          return y;
        });
      });
    }
  }
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
    const TrainResult result = train(net, {x.data(), 12, m, m}, {y.data(), 3, m, m}, test::adam(0.01, 3, 128));
    std::vector<double> out(net.parameters().begin(), net.parameters().end());
    out.insert(out.end(), result.iteration_loss.begin(), result.iteration_loss.end());
    return out;
  });
}

TEST_CASE("gradcheck reports of an Mlp are bitwise identical at every thread count, in every mode") {
  const std::size_t m = 20;
  const auto x = test::uniform<double>(12 * m, 71);
  const auto y = one_hot(3, m);
  const Mlp<double> net(small_network());
  const MatrixView<const double> xv{x.data(), 12, m, m}, yv{y.data(), 3, m, m};
  for (GradcheckMode mode : {GradcheckMode::full, GradcheckMode::sampled, GradcheckMode::directional}) {
    CAPTURE(gradcheck_mode_name(mode));
    check_same_at_every_thread_count([&] {
      GradcheckOptions options;  // threads 0: the global setting
      options.mode = mode;
      return bits_of(gradcheck(net, xv, yv, options));
    });
  }
  // The threads option of the check itself gives the same report as the global setting.
  GradcheckOptions one, four;
  one.threads = 1;
  four.threads = 4;
  CHECK(bits_of(gradcheck(net, xv, yv, one)) == bits_of(gradcheck(net, xv, yv, four)));
}

TEST_CASE("gradcheck in every scheme and evaluator, on a function, check_vjp and check_hvp are bitwise identical at every thread count") {
  using Mode = GradcheckMode;
  using Scheme = DifferenceScheme;
  const Mlp<double> smooth(classifier({6, 9, 8, 3}, Activation::gelu, 0.3, 1.0, 10));
  const Mlp<double> dropout(classifier({6, 9, 8, 3}, Activation::gelu, 0.3, 0.8, 10));
  const std::size_t m = 10;
  const auto x = test::uniform<double>(6 * m, 81);
  const auto y = one_hot(3, m);
  const MatrixView<const double> xv{x.data(), 6, m, m}, yv{y.data(), 3, m, m};
  for (const Scheme scheme : {Scheme::richardson, Scheme::ridders})
    for (const GradcheckEvaluator evaluator : {GradcheckEvaluator::incremental, GradcheckEvaluator::naive}) {
      CAPTURE(static_cast<int>(scheme));
      CAPTURE(static_cast<int>(evaluator));
      check_same_at_every_thread_count([&] { return bits_of(gradcheck(dropout, xv, yv, with(Mode::full, scheme, evaluator))); });
    }
  check_same_at_every_thread_count([&] {
    return bits_of(gradcheck(dropout, xv, yv, with(Mode::full, Scheme::central, GradcheckEvaluator::naive)));
  });
  GradcheckOptions hvp_options = with(Mode::full, Scheme::ridders);
  hvp_options.initial_step = 0.01;
  hvp_options.directions = 3;
  check_same_at_every_thread_count([&] {
    hvp_options.threads = num_threads();
    return bits_of(check_hvp(smooth, xv, yv, hvp_options));
  });

  // A generic function with a planted bug, in every mode and scheme.
  const std::vector<double> theta = test::uniform<double>(40, 82);
  const std::vector<double> g = chain_gradient_with_a_bug(theta);
  const std::vector<TensorInfo> layout{{"W", 0, 6, 5}, {"b", 30, 10, 1}};
  for (const Mode mode : {Mode::full, Mode::sampled, Mode::directional}) {
    CAPTURE(gradcheck_mode_name(mode));
    check_same_at_every_thread_count([&] { return bits_of(gradcheck(chain, theta, g, layout, with(mode, Scheme::central))); });
  }
  for (const Scheme scheme : {Scheme::richardson, Scheme::ridders})
    check_same_at_every_thread_count([&] { return bits_of(gradcheck(chain, theta, g, layout, with(Mode::full, scheme))); });

  // check_vjp of f(x)ᵢ = xᵢ·xᵢ₊₁ with a vjp that drops one term, full and sampled.
  const VectorFunction product = [](std::span<const double> v) {
    std::vector<double> out(v.size() - 1);
    for (std::size_t i = 0; i + 1 < v.size(); ++i) out[i] = v[i] * v[i + 1];
    return out;
  };
  const VjpFunction broken = [](std::span<const double> v, std::span<const double> u) {
    std::vector<double> dx(v.size(), 0.0);
    for (std::size_t i = 0; i + 1 < v.size(); ++i) dx[i] += u[i] * v[i + 1], dx[i + 1] += i == 5 ? 0.0 : u[i] * v[i];
    return dx;
  };
  for (const Mode mode : {Mode::full, Mode::sampled})
    check_same_at_every_thread_count([&] { return bits_of(check_vjp(product, theta, broken, layout, with(mode, Scheme::central))); });
}
