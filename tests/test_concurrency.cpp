// Concurrent callers: the library is called from 8 application threads at once, each running
// gemm, activations, normalization, Mlp::forward_backward and gradcheck (each with its own
// OpenMP team inside), and every result must equal, bit for bit, the one computed serially before.
// Dispatch is initialized lazily by whichever thread comes first; nothing else is shared.
#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "mlpkit/mlpkit.hpp"
#include "mlpkit/normalization.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

constexpr int kCallers = 8;

/** Everything one caller computes; compared with operator== (bitwise for these finite values). */
struct Outputs {
  std::vector<float> gemm_c;
  std::vector<double> gemm_fused;
  std::vector<float> activations, derivatives, softmax_out;
  std::vector<double> standardized, bn_out;
  double loss = 0;
  std::vector<double> gradient;
  double relative_error = 0;
  std::vector<double> numeric_gradient;
  bool operator==(const Outputs&) const = default;
};

/** The inputs, shared read-only by every caller. */
struct Inputs {
  std::size_t m = 67, n = 45, k = 83;
  std::vector<float> a = test::uniform<float>(m * k, 1), b = test::uniform<float>(k * n, 2);
  std::vector<double> ad = test::uniform<double>(m * k, 3), bd = test::uniform<double>(k * n, 4);
  std::vector<double> bias = test::uniform<double>(m, 5);
  std::vector<float> x = test::uniform<float>(20000, 6, -6, 6);  // three activation chunks
  std::vector<double> features = test::uniform<double>(5 * 3000, 7, -50, 80);
  std::vector<double> batch_x = test::uniform<double>(6 * 40, 8), batch_y = [] {
    std::vector<double> y(40);
    for (std::size_t j = 0; j < y.size(); ++j) y[j] = j % 3 == 0 ? 1.0 : 0.0;
    return y;
  }();
  MlpConfig<double> config = [] {
    MlpConfig<double> c;
    c.dims = {6, 9, 5, 1};
    c.hidden = Activation::tanh;
    c.l2 = 0.1;
    c.keep_prob = 0.8;
    c.seed = 99;
    return c;
  }();
};

Outputs compute(const Inputs& in) {
  Outputs out;
  out.gemm_c.assign(in.m * in.n, 0.0F);
  gemm<float>(Trans::no, Trans::no, in.m, in.n, in.k, 1.5F, in.a.data(), in.k, in.b.data(), in.n, 0.0F,
              out.gemm_c.data(), in.n);
  out.gemm_fused.assign(in.m * in.n, 0.25);
  Epilogue<double> epilogue;
  epilogue.bias = in.bias.data();
  epilogue.activation = Activation::gelu;
  gemm<double>(Trans::no, Trans::yes, 1.0, {in.ad.data(), in.m, in.k, in.k}, {in.bd.data(), in.n, in.k, in.k}, 0.5,
               {out.gemm_fused.data(), in.m, in.n, in.n}, epilogue);

  out.activations.resize(in.x.size());
  out.derivatives.resize(in.x.size());
  activation_forward(Activation::sigmoid, in.x.data(), out.activations.data(), in.x.size());
  activation_backward(Activation::gelu, in.x.data(), in.x.data(), out.derivatives.data(), in.x.size());
  out.softmax_out.resize(in.x.size());
  softmax<float>({in.x.data(), 20, 1000, 1000}, {out.softmax_out.data(), 20, 1000, 1000});

  Standardizer<double> standardizer;
  standardizer.fit({in.features.data(), 5, 3000, 3000});
  out.standardized.resize(in.features.size());
  standardizer.transform({in.features.data(), 5, 3000, 3000}, {out.standardized.data(), 5, 3000, 3000});
  std::vector<double> gamma(5, 1.5), beta(5, -0.5), running_mean(5, 0.0), running_variance(5, 1.0);
  NormalizationCache<double> cache;
  out.bn_out.resize(in.features.size());
  batch_norm_forward<double>({in.features.data(), 5, 3000, 3000}, gamma, beta, running_mean, running_variance,
                             {out.bn_out.data(), 5, 3000, 3000}, cache);

  Mlp<double> net(in.config);
  const MatrixView<const double> x{in.batch_x.data(), 6, 40, 40}, y{in.batch_y.data(), 1, 40, 40};
  out.loss = net.forward_backward(x, y);
  out.gradient.assign(net.gradients().begin(), net.gradients().end());
  GradcheckOptions options;
  options.mode = GradcheckMode::sampled;
  options.samples_per_tensor = 6;
  const GradcheckReport report = gradcheck(net, x, y, options);
  out.relative_error = report.relative_error;
  out.numeric_gradient = report.numeric_gradient;
  return out;
}

}  // namespace

TEST_CASE("8 threads calling gemm, activations, normalization, forward_backward and gradcheck at once get the serial results") {
  const Inputs inputs;
  test::ScopedThreads threads(2);
  const Outputs serial = compute(inputs);
  std::vector<Outputs> results(kCallers);
  std::vector<std::thread> callers;
  std::atomic<int> ready{0};
  for (int t = 0; t < kCallers; ++t) {
    callers.emplace_back([&, t] {
      // Start together, so the first calls (dispatch initialization included) overlap.
      ready.fetch_add(1);
      while (ready.load() < kCallers) std::this_thread::yield();
      results[t] = compute(inputs);
    });
  }
  for (auto& caller : callers) caller.join();
  for (int t = 0; t < kCallers; ++t) {
    CAPTURE(t);
    CHECK(results[t].gemm_c == serial.gemm_c);
    CHECK(results[t].gemm_fused == serial.gemm_fused);
    CHECK(results[t].activations == serial.activations);
    CHECK(results[t].derivatives == serial.derivatives);
    CHECK(results[t].softmax_out == serial.softmax_out);
    CHECK(results[t].standardized == serial.standardized);
    CHECK(results[t].bn_out == serial.bn_out);
    CHECK(results[t].loss == serial.loss);
    CHECK(results[t].gradient == serial.gradient);
    CHECK(results[t].relative_error == serial.relative_error);
    CHECK(results[t].numeric_gradient.size() == serial.numeric_gradient.size());
  }
}

TEST_CASE("a generic gradcheck may be called from several threads with an f that is itself called concurrently") {
  const std::vector<double> theta = test::uniform<double>(40, 21);
  const auto f = [](std::span<const double> t) {
    double j = 0;
    for (std::size_t i = 0; i < t.size(); ++i) j += std::sin(t[i]) * static_cast<double>(i + 1);
    return j;
  };
  std::vector<double> gradient(theta.size());
  for (std::size_t i = 0; i < theta.size(); ++i) gradient[i] = std::cos(theta[i]) * static_cast<double>(i + 1);
  GradcheckOptions options;
  options.threads = 2;
  const GradcheckReport serial = gradcheck(f, theta, gradient, {}, options);
  CHECK(serial.verdict == Verdict::great);
  std::vector<GradcheckReport> reports(kCallers);
  std::vector<std::thread> callers;
  for (int t = 0; t < kCallers; ++t)
    callers.emplace_back([&, t] { reports[t] = gradcheck(f, theta, gradient, {}, options); });
  for (auto& caller : callers) caller.join();
  for (const auto& report : reports) {
    CHECK(report.relative_error == serial.relative_error);
    CHECK(report.numeric_gradient == serial.numeric_gradient);
  }
}

TEST_CASE("gradcheck's options.threads does not change the thread count other application threads see") {
  // set_num_threads is the application's process-wide setting; a gradcheck running with
  // options.threads = 3 in one thread must not make another thread's kernels use 3 threads.
  test::ScopedThreads threads(1);
  std::atomic<bool> inside{false}, observed{false};
  int seen_by_other = 0;
  const std::vector<double> theta{0.5, 1.5}, gradient{1.0, 3.0};
  const auto f = [&](std::span<const double> t) {
    inside.store(true);
    // Hold the check open until the other thread has looked (bounded, in case it never does).
    for (int spin = 0; spin < 2000 && !observed.load(); ++spin) std::this_thread::sleep_for(std::chrono::microseconds(500));
    return t[0] * t[0] + 1.5 * t[1] * t[1];
  };
  std::thread checker([&] {
    GradcheckOptions options;
    options.threads = 3;
    (void)gradcheck(f, theta, gradient, {}, options);
  });
  while (!inside.load()) std::this_thread::yield();
  seen_by_other = num_threads();
  observed.store(true);
  checker.join();
  CHECK(seen_by_other == 1);
  CHECK(num_threads() == 1);
}
