// Directional mode: k random unit directions v, (J(θ+εv) − J(θ−εv)) / 2ε against dθ·v, the same
// restricted to each tensor (rescaled to unit length), and bisection over the rows of a failing
// tensor to localize the bug in O(log rows) extra evaluations.
#include <algorithm>
#include <cmath>
#include <random>

#include "gradcheck/gradcheck_internal.hpp"
#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit::detail {
namespace {

/** Standard normal draws from a 64-bit engine via Box–Muller: reproducible across standard libraries. */
std::vector<double> gaussian(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> v(n);
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1p-53; };
  for (std::size_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2 * std::log(uniform())), phi = 6.283185307179586 * uniform();
    v[i] = r * std::cos(phi);
    if (i + 1 < n) v[i + 1] = r * std::sin(phi);
  }
  double norm2 = 0;
  for (double x : v) norm2 += x * x;
  const double scale = norm2 > 0 ? 1 / std::sqrt(norm2) : 0;
  for (double& x : v) x *= scale;
  return v;
}

/**
 * v restricted to θ[begin, end) and scaled to unit length, zero elsewhere. Unit length, as a full-mode
 * step: unscaled, a slice of s of n entries would be stepped by only about ε·√(s/n), and the rounding
 * of J, which does not shrink with the step, would weigh √(n/s) times more in its derivative (a 1×1
 * bias of a large model was called suspicious so).
 */
std::vector<double> restricted(const std::vector<double>& v, std::size_t begin, std::size_t end) {
  std::vector<double> r(v.size(), 0.0);
  double norm2 = 0;
  for (std::size_t i = begin; i < end; ++i) norm2 += v[i] * v[i];
  const double scale = norm2 > 0 ? 1 / std::sqrt(norm2) : 0;
  for (std::size_t i = begin; i < end; ++i) r[i] = v[i] * scale;
  return r;
}

struct Directional {
  double numeric = 0, analytic = 0, rounding = 0;
};

// numeric = (J(x⁺) − J(x⁻)) / 2ε against analytic = dθ·(x⁺ − x⁻) / 2ε, with x± = θ ± ε·v as rounded:
// the displacement actually taken, as full mode divides by the steps actually taken. θᵢ ± ε·vᵢ rounds
// to ulp(θᵢ), which for |θᵢ| ≫ ε is a sizeable part of the step; dθ·v would count that as an error.
Directional measure(const char* function, const LossEvaluator& evaluator, std::span<const double> theta,
                    std::span<const double> analytic, const std::vector<double>& v, double eps, std::size_t label) {
  const std::size_t n = theta.size();
  std::vector<double> plus_point(n), minus_point(n);
  for (std::size_t i = 0; i < n; ++i) {
    plus_point[i] = theta[i] + eps * v[i];
    minus_point[i] = theta[i] - eps * v[i];
  }
  const double plus = evaluator.at(plus_point);
  const double minus = evaluator.at(minus_point);
  check_finite_value(function, plus, label, " + ");
  check_finite_value(function, minus, label, " − ");
  Directional d;
  d.numeric = (plus - minus) / (2 * eps);
  double projected = 0;
  for (std::size_t i = 0; i < n; ++i) projected += analytic[i] * (plus_point[i] - minus_point[i]);
  d.analytic = projected / (2 * eps);
  d.rounding = rounding_bound(plus, minus, 2 * eps);
  return d;
}

}  // namespace

void run_directional(const char* function, const LossEvaluator& evaluator, double /*j0*/,
                     std::span<const double> theta, std::span<const double> analytic,
                     std::span<const TensorInfo> layout, const GradcheckOptions& options, GradcheckReport& report) {
  const std::size_t n = theta.size();
  const std::size_t k = options.directions;
  const TensorInfo whole{"theta", 0, n, 1};
  const std::span<const TensorInfo> tensors = layout.empty() ? std::span<const TensorInfo>(&whole, 1) : layout;
  const std::size_t per_direction = 1 + tensors.size();  // the whole direction, then one per tensor
  // k directions of n entries, and k·(1 + tensors) results, are allocated below.
  checked_array_bytes(function, "options.directions × the parameter count", checked_mul(function, "options.directions × n", k, n),
                      sizeof(double));
  checked_array_bytes(function, "options.directions × the tensor count",
                      checked_mul(function, "options.directions × (1 + tensors)", k, per_direction), sizeof(Directional));

  std::vector<std::vector<double>> directions(k);
  for (std::size_t d = 0; d < k; ++d) directions[d] = gaussian(n, options.seed + 0x9e37 * (d + 1));

  // Every (direction, restriction) pair is independent: one parallel loop over all of them.
  std::vector<Directional> results(k * per_direction);
  parallel_for(
      results.size(), evaluator.work_per_parameter() * 2,
      [&](std::size_t item) {
        const std::size_t d = item / per_direction, r = item % per_direction;
        if (r == 0) {
          results[item] = measure(function, evaluator, theta, analytic, directions[d], options.eps, d);
        } else {
          const TensorInfo& t = tensors[r - 1];
          results[item] = measure(function, evaluator, theta, analytic,
                                  restricted(directions[d], t.offset, t.offset + t.rows * t.cols), options.eps, d);
        }
      },
      Schedule::balanced);
  report.evaluations += 2 * results.size();

  auto figures = [&](std::size_t r, double& num2, double& ana2, double& diff2, double& noise2) {
    num2 = ana2 = diff2 = noise2 = 0;
    for (std::size_t d = 0; d < k; ++d) {
      const Directional& x = results[d * per_direction + r];
      num2 += x.numeric * x.numeric;
      ana2 += x.analytic * x.analytic;
      diff2 += (x.numeric - x.analytic) * (x.numeric - x.analytic);
      noise2 += x.rounding * x.rounding;
    }
    double denominator = std::sqrt(num2) + std::sqrt(ana2);
    if (options.noise_floor > 0)
      denominator = std::max(denominator, options.noise_floor * std::sqrt(noise2) / options.great_below);
    return denominator == 0 ? 0.0 : std::sqrt(diff2) / denominator;
  };

  double num2, ana2, diff2, noise2;
  report.relative_error = figures(0, num2, ana2, diff2, noise2);
  report.verdict = verdict_for(report.relative_error, options);
  report.checked = k;
  report.coverage = 1.0;
  for (std::size_t d = 0; d < k; ++d) {
    report.directional_numeric.push_back(results[d * per_direction].numeric);
    report.directional_analytic.push_back(results[d * per_direction].analytic);
  }

  for (std::size_t r = 1; r < per_direction; ++r) {
    const TensorInfo& t = tensors[r - 1];
    TensorCheck c = tensor_check_for(t);
    c.checked = k;
    c.relative_error = figures(r, num2, ana2, diff2, noise2);
    c.verdict = verdict_for(c.relative_error, options);
    if (static_cast<int>(c.verdict) > static_cast<int>(report.verdict)) report.verdict = c.verdict;
    // The worst direction stands for the worst entry; its index is the direction's number.
    std::size_t worst_d = 0;
    double worst = -1;
    for (std::size_t d = 0; d < k; ++d) {
      const Directional& x = results[d * per_direction + r];
      if (std::abs(x.numeric - x.analytic) > worst) {
        worst = std::abs(x.numeric - x.analytic);
        worst_d = d;
      }
    }
    const Directional& w = results[worst_d * per_direction + r];
    c.max_abs_diff = worst;
    c.worst = {worst_d, c.layer, 0, 0, w.numeric, w.analytic};
    if (c.verdict != Verdict::great) {
      if (num2 > 0) {
        double na = 0;
        for (std::size_t d = 0; d < k; ++d) na += results[d * per_direction + r].numeric * results[d * per_direction + r].analytic;
        c.fit_alpha = na / num2;
        c.fingerprint = classify_alpha(c.fit_alpha, options.batch_size);
        if (c.fingerprint == Fingerprint::none) c.fingerprint = Fingerprint::unexplained;
      } else {
        c.fingerprint = Fingerprint::unexplained;
      }
      // Bisection over rows with the worst direction restricted to the half under test: follow the
      // half with the larger discrepancy (serial: a few evaluations only).
      std::size_t begin = 0, end = t.rows;
      while (end - begin > 1) {
        const std::size_t mid = begin + (end - begin) / 2;
        const auto lower = measure(function, evaluator, theta, analytic,
                                   restricted(directions[worst_d], t.offset + begin * t.cols, t.offset + mid * t.cols),
                                   options.eps, worst_d);
        const auto upper = measure(function, evaluator, theta, analytic,
                                   restricted(directions[worst_d], t.offset + mid * t.cols, t.offset + end * t.cols),
                                   options.eps, worst_d);
        report.evaluations += 4;
        const double el = std::abs(lower.numeric - lower.analytic), eu = std::abs(upper.numeric - upper.analytic);
        if (el >= eu) end = mid; else begin = mid;
      }
      c.suspect_row_begin = begin;
      c.suspect_row_end = end;
      c.diagnosis = describe(c.fingerprint, c.fit_alpha, 0, c.name) + "; largest discrepancy in rows [" +
                    std::to_string(begin) + ", " + std::to_string(end) + ")";
    }
    report.tensors.push_back(std::move(c));
  }
}

}  // namespace mlpkit::detail
