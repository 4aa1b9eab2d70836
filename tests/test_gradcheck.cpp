// gradcheck, generic API: analytic functions and a hand-written network with injected bugs,
// fingerprints, modes, determinism over thread counts, progress and cancel, bad input.
// The Mlp front end is tested in test_gradcheck_mlp.cpp.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "gradcheck_test_support.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

using Function = std::function<double(std::span<const double>)>;

/** Rosenbrock in n dimensions: Σ 100(x[i+1] − x[i]²)² + (1 − x[i])². */
double rosenbrock(std::span<const double> x) {
  double s = 0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i)
    s += 100 * (x[i + 1] - x[i] * x[i]) * (x[i + 1] - x[i] * x[i]) + (1 - x[i]) * (1 - x[i]);
  return s;
}

std::vector<double> rosenbrock_gradient(std::span<const double> x) {
  std::vector<double> g(x.size(), 0.0);
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const double r = x[i + 1] - x[i] * x[i];
    g[i] += -400 * x[i] * r - 2 * (1 - x[i]);
    g[i + 1] += 200 * r;
  }
  return g;
}

/**
 * A hand-written 4-5-5-1 network (tanh, tanh, sigmoid + binary cross-entropy, L2), features × examples,
 * with its own backpropagation into which tests inject bugs.
 */
struct TinyNet {
  static constexpr std::size_t m = 7;
  const std::vector<std::size_t> dims{4, 5, 5, 1};
  double lambda = 0.7;
  std::vector<double> x, y;
  std::vector<TensorInfo> layout;
  std::size_t n = 0;

  TinyNet() {
    x = test::uniform<double>(dims[0] * m, 11, -1, 1);
    for (std::size_t j = 0; j < m; ++j) y.push_back(j % 3 == 0 ? 1.0 : 0.0);
    for (std::size_t l = 1; l < dims.size(); ++l) {
      const std::string number = std::to_string(l);  // (not "W" + …: GCC 12 warns falsely at -O3)
      layout.push_back({std::string(1, 'W').append(number), n, dims[l], dims[l - 1]});
      n += dims[l] * dims[l - 1];
      layout.push_back({std::string(1, 'b').append(number), n, dims[l], 1});
      n += dims[l];
    }
  }
  std::vector<double> theta() const { return test::uniform<double>(n, 5, -0.9, 0.9); }

  /** Activations A[0..L] (A[L] = σ(Z[L])), each n[l] × m. */
  std::vector<std::vector<double>> forward(std::span<const double> th) const {
    std::vector<std::vector<double>> a{x};
    std::size_t t = 0;
    for (std::size_t l = 1; l < dims.size(); ++l) {
      const double* w = th.data() + layout[t].offset;
      const double* b = th.data() + layout[t + 1].offset;
      t += 2;
      std::vector<double> z(dims[l] * m, 0.0);
      for (std::size_t i = 0; i < dims[l]; ++i)
        for (std::size_t j = 0; j < m; ++j) {
          double s = b[i];
          for (std::size_t k = 0; k < dims[l - 1]; ++k) s += w[i * dims[l - 1] + k] * a.back()[k * m + j];
          z[i * m + j] = l + 1 < dims.size() ? std::tanh(s) : 1 / (1 + std::exp(-s));
        }
      a.push_back(std::move(z));
    }
    return a;
  }

  double loss(std::span<const double> th) const {
    const auto a = forward(th);
    double j = 0;
    for (std::size_t e = 0; e < m; ++e) j -= y[e] * std::log(a.back()[e]) + (1 - y[e]) * std::log(1 - a.back()[e]);
    j /= m;
    double squares = 0;
    for (std::size_t t = 0; t < layout.size(); t += 2)
      for (std::size_t q = 0; q < layout[t].rows * layout[t].cols; ++q) squares += th[layout[t].offset + q] * th[layout[t].offset + q];
    return j + lambda / (2.0 * m) * squares;
  }

  /** dθ; wrong_derivative_layer > 0 uses 1 − a instead of 1 − a² at that hidden layer. */
  std::vector<double> gradient(std::span<const double> th, std::size_t wrong_derivative_layer = 0) const {
    const auto a = forward(th);
    std::vector<double> g(n, 0.0);
    const std::size_t L = dims.size() - 1;
    std::vector<double> dz(m);
    for (std::size_t e = 0; e < m; ++e) dz[e] = (a[L][e] - y[e]) / m;
    for (std::size_t l = L; l >= 1; --l) {
      const TensorInfo& wt = layout[2 * (l - 1)];
      const TensorInfo& bt = layout[2 * (l - 1) + 1];
      for (std::size_t i = 0; i < dims[l]; ++i) {
        for (std::size_t k = 0; k < dims[l - 1]; ++k) {
          double s = 0;
          for (std::size_t e = 0; e < m; ++e) s += dz[i * m + e] * a[l - 1][k * m + e];
          g[wt.offset + i * dims[l - 1] + k] = s + lambda / m * th[wt.offset + i * dims[l - 1] + k];
        }
        double s = 0;
        for (std::size_t e = 0; e < m; ++e) s += dz[i * m + e];
        g[bt.offset + i] = s;
      }
      if (l == 1) break;
      std::vector<double> prev(dims[l - 1] * m, 0.0);
      for (std::size_t k = 0; k < dims[l - 1]; ++k)
        for (std::size_t e = 0; e < m; ++e) {
          double s = 0;
          for (std::size_t i = 0; i < dims[l]; ++i) s += th[wt.offset + i * dims[l - 1] + k] * dz[i * m + e];
          const double act = a[l - 1][k * m + e];
          prev[k * m + e] = s * (l - 1 == wrong_derivative_layer ? 1 - act : 1 - act * act);
        }
      dz = std::move(prev);
    }
    return g;
  }
  Function function() const {
    return [this](std::span<const double> th) { return loss(th); };
  }
  const TensorCheck& tensor(const GradcheckReport& r, const std::string& name) const {
    for (const TensorCheck& t : r.tensors)
      if (t.name == name) return t;
    FAIL("no tensor " << name);
    return r.tensors.front();
  }
  GradcheckOptions options() const {
    GradcheckOptions o;
    o.batch_size = m;
    o.l2_over_m = lambda / m;
    return o;
  }
};

/** The fixture of the TinyNet tests: the network at its θ with its exact gradient g, which a test may spoil. */
struct AtTheta {
  const TinyNet net;
  const std::vector<double> theta = net.theta();
  std::vector<double> g = net.gradient(theta);
  /** The network's options in `mode`. */
  GradcheckOptions options(GradcheckMode mode) const {
    GradcheckOptions o = net.options();
    o.mode = mode;
    return o;
  }
  /** gradcheck of the network at θ against g, tensor by tensor. */
  GradcheckReport check(const GradcheckOptions& options) const { return gradcheck(net.function(), theta, g, net.layout, options); }
};

}  // namespace

TEST_CASE("gradcheck passes Rosenbrock with its exact gradient and fails a wrong one") {
  const std::vector<double> x{-1.2, 1.0, 0.3, -0.5, 0.8, 1.1};
  const std::vector<double> g = rosenbrock_gradient(x);
  const GradcheckReport good = gradcheck(rosenbrock, x, g);
  CHECK(good.verdict == Verdict::great);
  CHECK(good.relative_error < 1e-7);
  CHECK(good.checked == x.size());
  CHECK(good.evaluations == 2 + 2 * x.size());
  REQUIRE(good.tensors.size() == 1);
  CHECK(good.tensors[0].name == "theta");
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(good.numeric_gradient[i] == doctest::Approx(g[i]).epsilon(1e-6));

  std::vector<double> wrong = g;
  wrong[3] += 1.0;
  const GradcheckReport bad = gradcheck(rosenbrock, x, wrong);
  CHECK(bad.verdict == Verdict::wrong);
  CHECK(bad.tensors[0].worst.index == 3);
  CHECK(bad.tensors[0].worst.row == 3);
  CHECK(bad.tensors[0].worst.analytic == wrong[3]);
}

TEST_CASE("gradcheck with a layout names the faulty slice of θ and leaves the others great") {
  // f(a, B, c) = Σ sin(aᵢ) + Σ Bᵢⱼ³ / 3 + (Σ cᵢ)²: three slices, the bug in B's gradient.
  const std::vector<TensorInfo> layout{{"a", 0, 3, 1}, {"B2", 3, 2, 3}, {"c", 9, 4, 1}};
  const std::vector<double> theta = test::uniform<double>(13, 3, -1, 1);
  const Function f = [](std::span<const double> t) {
    double s = 0, c = 0;
    for (std::size_t i = 0; i < 3; ++i) s += std::sin(t[i]);
    for (std::size_t i = 3; i < 9; ++i) s += t[i] * t[i] * t[i] / 3;
    for (std::size_t i = 9; i < 13; ++i) c += t[i];
    return s + c * c;
  };
  std::vector<double> g(13);
  double c = 0;
  for (std::size_t i = 9; i < 13; ++i) c += theta[i];
  for (std::size_t i = 0; i < 3; ++i) g[i] = std::cos(theta[i]);
  for (std::size_t i = 3; i < 9; ++i) g[i] = theta[i] * theta[i];
  for (std::size_t i = 9; i < 13; ++i) g[i] = 2 * c;
  CHECK(gradcheck(f, theta, g, layout).verdict == Verdict::great);

  g[3 + 1 * 3 + 2] *= 1.5;  // B2 row 1, column 2
  const GradcheckReport r = gradcheck(f, theta, g, layout);
  CHECK(r.verdict == Verdict::wrong);
  REQUIRE(r.tensors.size() == 3);
  CHECK(r.tensors[0].verdict == Verdict::great);
  CHECK(r.tensors[2].verdict == Verdict::great);
  CHECK(r.tensors[1].verdict == Verdict::wrong);
  CHECK(r.tensors[1].layer == 2);
  CHECK(r.tensors[1].worst.row == 1);
  CHECK(r.tensors[1].worst.col == 2);
  CHECK(r.to_text().find("B2") != std::string::npos);
}

TEST_CASE("gradcheck passes a correct hand-written network and fingerprints each injected bug in its tensor") {
  const TinyNet net;
  const std::vector<double> theta = net.theta();
  const std::vector<double> good = net.gradient(theta);
  const GradcheckOptions options = net.options();
  const GradcheckReport ok = gradcheck(net.function(), theta, good, net.layout, options);
  INFO(ok.to_text());
  CHECK(ok.verdict == Verdict::great);
  for (const TensorCheck& t : ok.tensors) CHECK(t.fingerprint == Fingerprint::none);

  auto slice = [&](std::vector<double>& g, const std::string& name) {
    for (const TensorInfo& t : net.layout)
      if (t.name == name) return std::span<double>(g.data() + t.offset, t.rows * t.cols);
    FAIL("no slice");
    return std::span<double>();
  };
  auto expect_only = [&](const std::vector<double>& g, const std::string& name, Fingerprint fingerprint) {
    test::expect_only_wrong(gradcheck(net.function(), theta, g, net.layout, options), name, fingerprint);
  };
  const double l2_over_m = net.lambda / TinyNet::m;

  SUBCASE("sign flip in one tensor") {
    std::vector<double> g = good;
    for (double& v : slice(g, "W2")) v = -v;
    expect_only(g, "W2", Fingerprint::sign_flip);
  }
  SUBCASE("a missing 1/m on the data term") {
    std::vector<double> g = good;
    const auto w = std::span<const double>(theta).subspan(net.layout[2].offset, 25);
    auto s = slice(g, "W2");
    for (std::size_t q = 0; q < s.size(); ++q) s[q] = TinyNet::m * (s[q] - l2_over_m * w[q]) + l2_over_m * w[q];
    expect_only(g, "W2", Fingerprint::factor_m);
  }
  SUBCASE("averaging done twice on a bias") {
    std::vector<double> g = good;
    for (double& v : slice(g, "b1")) v /= TinyNet::m;
    expect_only(g, "b1", Fingerprint::factor_inverse_m);
  }
  SUBCASE("a missing L2 derivative flags every W tensor") {
    std::vector<double> g = good;
    for (std::size_t t = 0; t < net.layout.size(); t += 2)
      for (std::size_t q = 0; q < net.layout[t].rows * net.layout[t].cols; ++q)
        g[net.layout[t].offset + q] -= l2_over_m * theta[net.layout[t].offset + q];
    const GradcheckReport r = gradcheck(net.function(), theta, g, net.layout, options);
    INFO(r.to_text());
    for (const TensorCheck& t : r.tensors) {
      if (t.name[0] == 'W') {
        CHECK(t.verdict != Verdict::great);
        CHECK(t.fingerprint == Fingerprint::missing_l2);
        CHECK(t.fit_beta == doctest::Approx(-l2_over_m).epsilon(1e-3));
      } else {
        CHECK(t.verdict == Verdict::great);
      }
    }
  }
  SUBCASE("a transposed dW, square and not") {
    for (const std::string name : {"W2", "W1"}) {
      std::vector<double> g = good;
      const TensorInfo& t = name == "W2" ? net.layout[2] : net.layout[0];
      auto s = slice(g, name);
      for (std::size_t r = 0; r < t.rows; ++r)
        for (std::size_t c = 0; c < t.cols; ++c) s[c * t.rows + r] = good[t.offset + r * t.cols + c];
      expect_only(g, name, Fingerprint::transposed);
    }
  }
  SUBCASE("an all-zero gradient") {
    std::vector<double> g = good;
    for (double& v : slice(g, "b2")) v = 0;
    expect_only(g, "b2", Fingerprint::all_zero);
  }
  SUBCASE("a wrong activation derivative spoils its layer and all earlier ones") {
    const std::vector<double> g = net.gradient(theta, 1);
    const GradcheckReport r = gradcheck(net.function(), theta, g, net.layout, options);
    INFO(r.to_text());
    for (const TensorCheck& t : r.tensors) {
      if (t.layer <= 1) {
        CHECK(t.verdict == Verdict::wrong);
        CHECK(t.fingerprint == Fingerprint::upstream);
      } else {
        CHECK(t.verdict == Verdict::great);
      }
    }
  }
}

TEST_CASE_FIXTURE(AtTheta, "gradcheck sampled mode checks the stratified entries and states the coverage") {
  GradcheckOptions sampled = options(GradcheckMode::sampled);
  sampled.samples_per_tensor = 6;
  const GradcheckReport r = check(sampled);
  CHECK(r.verdict == Verdict::great);
  std::size_t expected = 0;
  for (const TensorInfo& t : net.layout) expected += std::min<std::size_t>(6, t.rows * t.cols);
  CHECK(r.checked == expected);
  CHECK(r.coverage == doctest::Approx(double(expected) / double(net.n)));
  // The largest |dθ| entry of W1 is always among the sampled ones.
  std::size_t largest = 0;
  for (std::size_t q = 1; q < 20; ++q)
    if (std::abs(g[q]) > std::abs(g[largest])) largest = q;
  CHECK(!std::isnan(r.numeric_gradient[largest]));
  // A bug in W1 is still found.
  for (std::size_t q = 0; q < 20; ++q) g[q] = -g[q];
  CHECK(net.tensor(check(sampled), "W1").fingerprint == Fingerprint::sign_flip);
  CHECK(r.to_json().find("\"coverage\"") != std::string::npos);
}

TEST_CASE_FIXTURE(AtTheta, "gradcheck directional mode passes a correct gradient and localizes a wrong row") {
  GradcheckOptions directional = options(GradcheckMode::directional);
  directional.directions = 6;
  const GradcheckReport ok = check(directional);
  INFO(ok.to_text());
  CHECK(ok.verdict == Verdict::great);
  CHECK(ok.directional_numeric.size() == 6);

  g[net.layout[2].offset + 3 * 5 + 1] += 0.5;  // W2 row 3
  const GradcheckReport bad = check(directional);
  INFO(bad.to_text());
  CHECK(bad.verdict == Verdict::wrong);
  const TensorCheck& w2 = net.tensor(bad, "W2");
  CHECK(w2.verdict == Verdict::wrong);
  CHECK(w2.suspect_row_begin == 3);
  CHECK(w2.suspect_row_end == 4);
  CHECK(net.tensor(bad, "W1").verdict == Verdict::great);
  CHECK(net.tensor(bad, "b2").verdict == Verdict::great);
}

TEST_CASE("gradcheck directional mode compares with the step actually taken, so a large θ fakes no error") {
  // J = Σ c_k·(θ_k − 1000): exact in floating point up to the steps, which round to ulp(1000) ≈ 1e-13,
  // i.e. ~1e-5 of an ε-sized step. Full mode divides by the steps taken; directional mode must too.
  const std::vector<double> c{3.0, -2.0, 0.5};
  const std::vector<double> theta{1000.123456789, 1000.987654321, 999.555555555};
  const Function f = [&](std::span<const double> t) {
    double j = 0;
    for (std::size_t k = 0; k < t.size(); ++k) j += c[k] * (t[k] - 1000);
    return j;
  };
  const std::vector<TensorInfo> layout{{"a", 0, 1, 1}, {"b", 1, 2, 1}};
  GradcheckOptions options;
  for (GradcheckMode mode : {GradcheckMode::full, GradcheckMode::directional}) {
    options.mode = mode;
    const GradcheckReport r = gradcheck(f, theta, c, layout, options);
    INFO(r.to_text());
    CHECK(r.verdict == Verdict::great);
    CHECK(r.relative_error < 1e-9);
  }
}

TEST_CASE("gradcheck directional mode checks a 1×1 slice as reliably as full mode when J has large cancelling terms") {
  // The fuzzer's case: J ≈ 1 is what is left of terms ≈ 1000, so its rounding is that of 1000, and a
  // 1×1 slice has a small gradient. θ has 128 entries (most of them unused by J), so an unscaled
  // restriction of a unit direction to the slice is ≈ 1/11 long, and the rounding of J weighs 11 times
  // more in it than in a full-mode step. Restricted directions must be as long as full-mode steps.
  const std::size_t n = 128, bias = n - 1;
  const std::vector<double> theta = test::uniform<double>(n, 21, 0.5, 1.5);
  const auto terms = [&](std::span<const double> t) {
    double s = 1000;
    for (std::size_t k = 0; k < 8; ++k) s += 8 * t[k] * t[k];
    return s + 10 * t[bias];
  };
  const double at_theta = terms(theta);
  const Function f = [&](std::span<const double> t) { return terms(t) - at_theta; };
  std::vector<double> g(n, 0.0);
  for (std::size_t k = 0; k < 8; ++k) g[k] = 16 * theta[k];
  g[bias] = 10;
  const std::vector<TensorInfo> layout{{"W", 0, 2, 4}, {"unused", 8, n - 9, 1}, {"b", bias, 1, 1}};
  GradcheckOptions options;
  options.mode = GradcheckMode::full;
  const GradcheckReport full = gradcheck(f, theta, g, layout, options);
  INFO(full.to_text());
  REQUIRE(full.verdict == Verdict::great);
  // Per tensor (the global figure steps along whole directions, mostly through the unused entries).
  options.mode = GradcheckMode::directional;
  std::size_t not_great = 0;
  for (std::uint64_t seed = 1; seed <= 32; ++seed) {
    options.seed = seed;
    const GradcheckReport r = gradcheck(f, theta, g, layout, options);
    for (const TensorCheck& t : r.tensors)
      if (t.verdict != Verdict::great) {
        ++not_great;
        INFO(r.to_text());
        CHECK(t.verdict == Verdict::great);
      }
  }
  CHECK(not_great == 0);
}

TEST_CASE_FIXTURE(AtTheta, "gradcheck progress callback sees every parameter and can cancel") {
  GradcheckOptions full = options(GradcheckMode::full);
  std::size_t last_done = 0, calls = 0;
  full.progress = [&](std::size_t done, std::size_t total) {
    CHECK(total == net.n);
    CHECK(done > last_done);
    last_done = done;
    ++calls;
    return true;
  };
  const GradcheckReport all = check(full);
  CHECK(last_done == net.n);
  CHECK(calls > 1);
  CHECK(!all.cancelled);
  full.progress = [&](std::size_t, std::size_t) { return false; };
  const GradcheckReport cancelled = check(full);
  CHECK(cancelled.cancelled);
  CHECK(cancelled.checked < net.n);
  CHECK(cancelled.checked > 0);
}

TEST_CASE_FIXTURE(AtTheta, "gradcheck to_json holds the report, machine-readable") {
  for (std::size_t q = 0; q < 5; ++q) g[net.layout[3].offset + q] *= -1;  // b2
  const GradcheckReport r = check(options(GradcheckMode::full));
  const auto j = nlohmann::json::parse(r.to_json());
  CHECK(j["verdict"] == "wrong");
  CHECK(j["tensors"].size() == 6);
  CHECK(j["tensors"][3]["name"] == "b2");
  CHECK(j["tensors"][3]["fingerprint"] == "sign_flip");
  CHECK(j["tensors"][3]["worst"]["layer"] == 2);
  CHECK(j["tensors"][0]["verdict"] == "great");
  CHECK(r.to_text().find("sign_flip") != std::string::npos);
}
