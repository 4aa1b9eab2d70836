// The Taylor-remainder test of directional mode: r(h) = |J(θ+hv) − J(θ) − dθ·(θ+hv − θ)| at
// geometric steps h; the slope of log r against log h is 2 for a right gradient (the remainder is
// the curvature term ½h²·vᵀHv) and 1 for a wrong one (the gradient's error times h), whatever ε.
#include <algorithm>
#include <cmath>
#include <limits>

#include "gradcheck/directional_internal.hpp"
#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit::detail {
namespace {

// r(h) is fitted only where it stands this far above its rounding bound: there its own error is
// under 0.1 %, which moves a slope fitted over 1.5 decades by < 0.002.
constexpr double kResolvedFactor = 1e3;
// The fit covers this many of the smallest resolved steps (1.5 decades at √10): small steps, because
// a right gradient's remainder is h²·vᵀHv/2 only until h reaches the nearest kink or higher-order
// term, and a wrong gradient's error term h·δ outweighs the curvature most at small h.
constexpr std::size_t kFitPoints = 4;

/** The bound of the rounding of r = J(x) − J(θ) − lin: each evaluation of J a few dozen ulps of |J|. */
double remainder_noise(double j_h, double j0, double lin) {
  constexpr double u = 0x1p-53;
  return 32 * u * (std::abs(j_h) + std::abs(j0) + std::abs(lin));
}

}  // namespace

void fit_taylor(TaylorTest& test) {
  const std::size_t count = test.steps.size();
  // The smallest resolved step, then up the run of resolved steps above it.
  std::size_t last = count;
  while (last > 0 && !(test.remainders[last - 1] >= kResolvedFactor * test.noise[last - 1])) --last;
  std::size_t first = last;
  while (first > 0 && last - first < kFitPoints && test.remainders[first - 1] >= kResolvedFactor * test.noise[first - 1])
    --first;
  test.fit_first = first;
  test.fit_last = last;
  test.agreement = Agreement::unresolved;
  if (last - first < 3) {
    test.slope = test.intercept = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  // Least squares of log₁₀ r on log₁₀ h.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const auto points = static_cast<double>(last - first);
  for (std::size_t k = first; k < last; ++k) {
    const double x = std::log10(test.steps[k]), y = std::log10(test.remainders[k]);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  test.slope = (points * sxy - sx * sy) / (points * sxx - sx * sx);
  test.intercept = (sy - test.slope * sx) / points;
  if (test.slope >= 1.75) test.agreement = Agreement::agree;
  else if (test.slope <= 1.25) test.agreement = Agreement::disagree;
}

std::vector<TaylorTest> taylor_tests(const char* function, const LineEvaluator& line, std::span<const Probe> probes,
                                     const GradcheckOptions& options, std::size_t& evaluations) {
  const std::size_t steps = options.taylor_steps;
  const double j0 = line.origin();
  std::vector<TaylorTest> tests(probes.size());
  for (TaylorTest& test : tests) {
    test.steps.resize(steps);
    test.remainders.resize(steps);
    test.noise.resize(steps);
    // h_k = h₀·10^(−k/2), each computed from h₀ alone so no rounding accumulates along the range.
    for (std::size_t k = 0; k < steps; ++k)
      test.steps[k] = options.taylor_largest_step * std::pow(10.0, -0.5 * static_cast<double>(k));
  }
  // One item per probe when the evaluator shares a pass among steps, else one per (probe, step).
  const std::size_t per_item = line.batches_steps() ? std::max<std::size_t>(steps, 1) : 1;
  const std::size_t items_per_probe = (steps + per_item - 1) / per_item;
  parallel_for(
      probes.size() * items_per_probe, line.work_per_point() * static_cast<double>(per_item),
      [&](std::size_t item) {
        const std::size_t p = item / items_per_probe, first = (item % items_per_probe) * per_item;
        const std::size_t count = std::min(per_item, steps - first);
        TaylorTest& test = tests[p];
        double v[64], lin[64];  // count ≤ taylor_steps ≤ 64 (check_options)
        line.evaluate(0, probes[p], std::span<const double>(test.steps).subspan(first, count), {v, count}, {lin, count});
        for (std::size_t q = 0; q < count; ++q) {
          const std::size_t k = first + q;
          if (!std::isfinite(v[q]))
            fail(function, "J is not finite (", v[q], ") at θ + h·v in the Taylor-remainder test (h = ",
                 test.steps[k], "): lower options.taylor_largest_step");
          test.remainders[k] = std::abs(v[q] - j0 - lin[q]);
          test.noise[k] = remainder_noise(v[q], j0, lin[q]);
        }
      },
      Schedule::balanced);
  evaluations += probes.size() * steps;
  for (TaylorTest& test : tests) fit_taylor(test);
  return tests;
}

}  // namespace mlpkit::detail
