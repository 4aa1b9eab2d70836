// Sampled mode's stated guarantee (the probability of hitting an error on a fraction of a tensor),
// detection_probability instead of a sample count, and sampling stratified by row and column.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "mlpkit/gradcheck.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

/** J(θ) = Σ wᵢ·θᵢ² + sin(θᵢ)/2 with distinct weights, so every entry's derivative differs: dJ/dθᵢ = 2wᵢθᵢ + cos(θᵢ)/2. */
struct Quadratic {
  std::vector<double> theta, weights;
  explicit Quadratic(std::size_t n, std::uint64_t seed)
      : theta(test::uniform<double>(n, seed, -1, 1)), weights(test::uniform<double>(n, seed + 1, 0.5, 2)) {}
  double operator()(std::span<const double> t) const {
    double s = 0;
    for (std::size_t i = 0; i < t.size(); ++i) s += weights[i] * t[i] * t[i] + std::sin(t[i]) / 2;
    return s;
  }
  std::vector<double> gradient() const {
    std::vector<double> g(theta.size());
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = 2 * weights[i] * theta[i] + std::cos(theta[i]) / 2;
    return g;
  }
};

GradcheckOptions sampled(std::size_t samples, std::uint64_t seed = 1) {
  GradcheckOptions options;
  options.mode = GradcheckMode::sampled;
  options.samples_per_tensor = samples;
  options.seed = seed;
  return options;
}

/** 1 − C(n − k, e)/C(n, e) by the product formula, in long double. */
double exact_hit(std::size_t n, std::size_t k, std::size_t e) {
  long double miss = 1;
  for (std::size_t i = 0; i < e; ++i) miss *= static_cast<long double>(n - k - i) / static_cast<long double>(n - i);
  return static_cast<double>(1 - miss);
}

}  // namespace

TEST_CASE("sampled mode states the probability of hitting an error on 1 % and 10 % of a tensor's entries") {
  const Quadratic f(1000, 3);
  const std::vector<TensorInfo> layout{{"W", 0, 20, 40}, {"b", 800, 200, 1}};
  const GradcheckReport r = gradcheck(f, f.theta, f.gradient(), layout, sampled(24));
  INFO(r.to_text());
  REQUIRE(r.tensors.size() == 2);
  CHECK(r.tensors[0].checked == 24);
  CHECK(r.tensors[0].hit_probability_1pct == doctest::Approx(exact_hit(800, 24, 8)).epsilon(1e-12));
  CHECK(r.tensors[0].hit_probability_10pct == doctest::Approx(exact_hit(800, 24, 80)).epsilon(1e-12));
  CHECK(r.tensors[1].hit_probability_1pct == doctest::Approx(exact_hit(200, 24, 2)).epsilon(1e-12));
  CHECK(r.to_text().find("sampled: an error on 1 % of a tensor's entries") != std::string::npos);
  CHECK(r.to_json().find("\"hit_probability\"") != std::string::npos);
  // A full check hits everything.
  const GradcheckReport full = gradcheck(f, f.theta, f.gradient(), layout);
  for (const TensorCheck& t : full.tensors) CHECK(t.hit_probability_1pct == 1.0);
}

TEST_CASE("sampled mode with a detection probability takes the smallest sample that reaches it") {
  const Quadratic f(1000, 4);
  const std::vector<TensorInfo> layout{{"W", 0, 25, 40}};
  for (const double probability : {0.5, 0.9, 0.99}) {
    GradcheckOptions options = sampled(24);
    options.detection_probability = probability;
    const GradcheckReport r = gradcheck(f, f.theta, f.gradient(), layout, options);
    CAPTURE(probability);
    const std::size_t k = r.tensors[0].checked;
    CHECK(r.tensors[0].hit_probability_1pct >= probability);
    CHECK(exact_hit(1000, k - 1, 10) < probability);
    CHECK(r.verdict == Verdict::great);
  }
  GradcheckOptions tenth = sampled(24);
  tenth.detection_probability = 0.99;
  tenth.detection_fraction = 0.1;
  const GradcheckReport r = gradcheck(f, f.theta, f.gradient(), layout, tenth);
  CHECK(r.tensors[0].hit_probability_10pct >= 0.99);
  CHECK(r.tensors[0].checked < 50);  // 10 % of the entries wrong: a few dozen samples suffice
}

TEST_CASE("stratified sampling always hits a row swap and a transpose with max(rows, cols) samples") {
  // Every seed: a sample as large as the larger side covers every row and every column, so the
  // swapped rows and an off-diagonal entry of the transposed tensor are always among the checked.
  std::size_t swaps_missed = 0, transposes_missed = 0, swaps_wrong = 0, transposes_wrong = 0;
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const Quadratic f(20 * 7 + 12 * 12, 100 + seed);
    const std::vector<TensorInfo> layout{{"R", 0, 20, 7}, {"T", 140, 12, 12}};
    const std::vector<double> good = f.gradient();
    std::vector<double> swapped = good;  // rows 3 and 11 of R exchanged
    for (std::size_t c = 0; c < 7; ++c) std::swap(swapped[3 * 7 + c], swapped[11 * 7 + c]);
    const GradcheckReport a = gradcheck(f, f.theta, swapped, layout, sampled(20, seed));
    std::size_t hits = 0;
    for (std::size_t c = 0; c < 7; ++c) hits += !std::isnan(a.numeric_gradient[3 * 7 + c]) + !std::isnan(a.numeric_gradient[11 * 7 + c]);
    swaps_missed += hits == 0;
    swaps_wrong += a.tensors[0].verdict == Verdict::wrong;
    std::vector<double> transposed = good;
    for (std::size_t r = 0; r < 12; ++r)
      for (std::size_t c = 0; c < 12; ++c) transposed[140 + r * 12 + c] = good[140 + c * 12 + r];
    const GradcheckReport b = gradcheck(f, f.theta, transposed, layout, sampled(12, seed));
    std::size_t off_diagonal = 0;
    for (std::size_t r = 0; r < 12; ++r)
      for (std::size_t c = 0; c < 12; ++c) off_diagonal += r != c && !std::isnan(b.numeric_gradient[140 + r * 12 + c]);
    transposes_missed += off_diagonal == 0;
    transposes_wrong += b.tensors[1].verdict == Verdict::wrong;
    // Every row and every column of R is sampled.
    for (std::size_t r = 0; r < 20; ++r) {
      std::size_t in_row = 0;
      for (std::size_t c = 0; c < 7; ++c) in_row += !std::isnan(a.numeric_gradient[r * 7 + c]);
      CHECK(in_row >= 1);
    }
  }
  CHECK(swaps_missed == 0);
  CHECK(transposes_missed == 0);
  // A hit entry shows the swap unless the two rows' derivatives happen to be close there.
  CHECK(swaps_wrong >= 45);
  CHECK(transposes_wrong == 50);
}
