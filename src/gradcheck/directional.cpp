// Directional mode: k random unit directions v, (J(θ+εv) − J(θ−εv)) / 2ε against dθ·v, the same
// restricted to each tensor (rescaled to unit length), bisection over the rows of a failing tensor to
// localize the bug in O(log rows) extra evaluations, and the Taylor-remainder test (taylor.cpp).
// J along a direction comes from a LineEvaluator (directional_line.cpp): the evaluator's own when it
// has one (an Mlp's), else the generic one stepping copies of θ.
#include <algorithm>
#include <cmath>

#include "gradcheck/directional_internal.hpp"
#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit::detail {
namespace {

struct Directional {
  double numeric = 0, analytic = 0, rounding = 0;
};

// numeric = (J(x⁺) − J(x⁻)) / 2ε against analytic = dθ·(x⁺ − x⁻) / 2ε over the displacement the
// evaluator actually took, as full mode divides by the steps actually taken.
Directional measure(const char* function, const LineEvaluator& line, std::size_t d, const Probe& probe, double eps) {
  const double steps[2] = {eps, -eps};
  double values[2], linear[2];
  line.evaluate(d, probe, steps, values, linear);
  check_finite_value(function, values[0], d, " + ");
  check_finite_value(function, values[1], d, " − ");
  Directional out;
  out.numeric = (values[0] - values[1]) / (2 * eps);
  out.analytic = (linear[0] - linear[1]) / (2 * eps);
  out.rounding = rounding_bound(values[0], values[1], 2 * eps);
  return out;
}

/** The inputs every phase reads. */
struct DirectionalRun {
  const char* function;
  std::span<const double> theta;
  std::span<const TensorInfo> tensors;
  const GradcheckOptions& options;
  std::vector<Direction> directions;
  std::unique_ptr<LineEvaluator> line;
  std::size_t per_direction = 0;  // the whole direction, then one restriction per tensor
  std::vector<Directional> results;  // direction-major: results[d·per_direction + r]
};

/** k directions drawn from the seed, each ±1/√n per entry. */
std::vector<Direction> draw_directions(const GradcheckOptions& options, std::size_t n) {
  std::vector<Direction> directions(options.directions);
  for (std::size_t d = 0; d < directions.size(); ++d)
    directions[d] = {options.seed + 0x9e37 * (d + 1), n > 0 ? 1 / std::sqrt(static_cast<double>(n)) : 0.0};
  return directions;
}

/** Every (direction, restriction) pair is independent: one parallel loop over all of them. */
void measure_all(DirectionalRun& run) {
  const std::size_t n = run.theta.size();
  run.results.assign(run.directions.size() * run.per_direction, Directional{});
  parallel_for(
      run.results.size(), run.line->work_per_point() * 2,
      [&](std::size_t item) {
        const std::size_t d = item / run.per_direction, r = item % run.per_direction;
        Probe probe{0, n, 1.0};
        if (r > 0) {
          const TensorInfo& t = run.tensors[r - 1];
          probe = unit_probe(run.directions[d], t.offset, t.offset + t.rows * t.cols);
        }
        run.results[item] = measure(run.function, *run.line, d, probe, run.options.eps);
      },
      Schedule::balanced);
}

/** Norms over the directions of restriction r, and the relative error they give. */
struct Figures {
  double num2 = 0, relative_error = 0;
};

Figures figures(const DirectionalRun& run, std::size_t r) {
  double num2 = 0, ana2 = 0, diff2 = 0, noise2 = 0;
  for (std::size_t d = 0; d < run.options.directions; ++d) {
    const Directional& x = run.results[d * run.per_direction + r];
    num2 += x.numeric * x.numeric;
    ana2 += x.analytic * x.analytic;
    diff2 += (x.numeric - x.analytic) * (x.numeric - x.analytic);
    noise2 += x.rounding * x.rounding;
  }
  double denominator = std::sqrt(num2) + std::sqrt(ana2);
  if (run.options.noise_floor > 0)
    denominator = std::max(denominator, run.options.noise_floor * std::sqrt(noise2) / run.options.great_below);
  return {num2, denominator == 0 ? 0.0 : std::sqrt(diff2) / denominator};
}

/**
 * Bisection over the rows of tensor t with the worst direction restricted to the half under test:
 * follows the half with the larger discrepancy (serial: a few evaluations only). Returns [begin, end).
 */
std::pair<std::size_t, std::size_t> localize(const DirectionalRun& run, const TensorInfo& t, std::size_t worst_d,
                                             std::size_t& evaluations) {
  const Direction& v = run.directions[worst_d];
  std::size_t begin = 0, end = t.rows;
  while (end - begin > 1) {
    const std::size_t mid = begin + (end - begin) / 2;
    const Probe lower_probe = unit_probe(v, t.offset + begin * t.cols, t.offset + mid * t.cols);
    const Probe upper_probe = unit_probe(v, t.offset + mid * t.cols, t.offset + end * t.cols);
    const Directional lower = measure(run.function, *run.line, worst_d, lower_probe, run.options.eps);
    const Directional upper = measure(run.function, *run.line, worst_d, upper_probe, run.options.eps);
    evaluations += 4;
    const double el = std::abs(lower.numeric - lower.analytic), eu = std::abs(upper.numeric - upper.analytic);
    if (el >= eu) end = mid; else begin = mid;
  }
  return {begin, end};
}

/** The check of tensor r − 1 from its restricted measurements; a failing one is fingerprinted and localized. */
TensorCheck tensor_result(const DirectionalRun& run, std::size_t r, std::size_t& evaluations) {
  const std::size_t k = run.options.directions;
  const TensorInfo& t = run.tensors[r - 1];
  TensorCheck c = tensor_check_for(t);
  c.checked = k;
  const Figures f = figures(run, r);
  c.relative_error = f.relative_error;
  c.verdict = verdict_for(c.relative_error, run.options);
  // The worst direction stands for the worst entry; its index is the direction's number.
  std::size_t worst_d = 0;
  double worst = -1, na = 0;
  for (std::size_t d = 0; d < k; ++d) {
    const Directional& x = run.results[d * run.per_direction + r];
    na += x.numeric * x.analytic;
    if (std::abs(x.numeric - x.analytic) > worst) {
      worst = std::abs(x.numeric - x.analytic);
      worst_d = d;
    }
  }
  const Directional& w = run.results[worst_d * run.per_direction + r];
  c.max_abs_diff = worst;
  c.worst = {worst_d, c.layer, 0, 0, w.numeric, w.analytic};
  if (c.verdict == Verdict::great) return c;
  c.fingerprint = Fingerprint::unexplained;
  if (f.num2 > 0) {
    c.fit_alpha = na / f.num2;
    c.fingerprint = classify_alpha(c.fit_alpha, run.options.batch_size);
    if (c.fingerprint == Fingerprint::none) c.fingerprint = Fingerprint::unexplained;
  }
  const auto [begin, end] = localize(run, t, worst_d, evaluations);
  c.suspect_row_begin = begin;
  c.suspect_row_end = end;
  c.diagnosis = describe(c.fingerprint, c.fit_alpha, 0, c.name) + "; largest discrepancy in rows [" +
                std::to_string(begin) + ", " + std::to_string(end) + ")";
  return c;
}

/** The Taylor-remainder tests: the whole first direction, and its restriction to every tensor not great. */
void run_taylor(const DirectionalRun& run, GradcheckReport& report) {
  if (run.options.taylor_steps == 0) return;
  const Direction& v = run.directions.front();
  std::vector<Probe> probes{{0, run.theta.size(), 1.0}};
  std::vector<std::size_t> tested;  // report.tensors index per probe after the first
  for (std::size_t q = 0; q < report.tensors.size(); ++q) {
    if (report.tensors[q].verdict == Verdict::great) continue;
    const TensorInfo& t = run.tensors[q];
    probes.push_back(unit_probe(v, t.offset, t.offset + t.rows * t.cols));
    tested.push_back(q);
  }
  std::vector<TaylorTest> tests = taylor_tests(run.function, *run.line, probes, run.options, report.evaluations);
  report.taylor = std::move(tests.front());
  for (std::size_t q = 0; q < tested.size(); ++q) report.tensors[tested[q]].taylor = std::move(tests[q + 1]);
}

}  // namespace

void run_directional(const char* function, const LossEvaluator& evaluator, GradcheckPlan& plan,
                     std::span<const double> theta, std::span<const double> analytic, const GradcheckOptions& options) {
  const std::size_t n = theta.size(), k = options.directions;
  const std::size_t per_direction = 1 + plan.tensors.size();
  // k directions and k·(1 + tensors) results are allocated below, and a line evaluator may keep O(n)
  // per direction: checked before any of them is.
  checked_array_bytes(function, "options.directions × the parameter count",
                      checked_mul(function, "options.directions × n", k, n), sizeof(double));
  checked_array_bytes(function, "options.directions × the tensor count",
                      checked_mul(function, "options.directions × (1 + tensors)", k, per_direction),
                      sizeof(Directional));
  checked_array_bytes(function, "options.directions", k, sizeof(Direction));
  DirectionalRun run{function, theta, plan.tensors, options, draw_directions(options, n), nullptr, per_direction, {}};
  run.line = evaluator.line_evaluator(analytic, run.directions);
  if (!run.line) run.line = point_line_evaluator(evaluator, plan.j0, theta, analytic, run.directions);
  measure_all(run);
  GradcheckReport& report = plan.report;
  report.evaluations += 2 * run.results.size();
  report.relative_error = figures(run, 0).relative_error;
  report.verdict = verdict_for(report.relative_error, options);
  report.checked = k;
  report.coverage = 1.0;
  for (std::size_t d = 0; d < k; ++d) {
    report.directional_numeric.push_back(run.results[d * run.per_direction].numeric);
    report.directional_analytic.push_back(run.results[d * run.per_direction].analytic);
  }
  for (std::size_t r = 1; r < run.per_direction; ++r) {
    TensorCheck c = tensor_result(run, r, report.evaluations);
    if (static_cast<int>(c.verdict) > static_cast<int>(report.verdict)) report.verdict = c.verdict;
    report.tensors.push_back(std::move(c));
  }
  run_taylor(run, report);
}

}  // namespace mlpkit::detail
