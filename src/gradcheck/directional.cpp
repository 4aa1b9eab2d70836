// Directional mode: k random unit directions v, (J(θ+εv) − J(θ−εv)) / 2ε against dθ·v, the same
// restricted to each tensor (rescaled to unit length), bisection over the rows of a failing tensor to
// localize the bug in O(log rows) extra evaluations, and the Taylor-remainder test (taylor.cpp).
//
// Each measurement steps a per-thread copy of θ in place over its probe's slice only and restores
// it, along a direction whose entries are hashed, not stored: an evaluation costs one forward pass
// of J and O(slice) besides, and nothing per evaluation is allocated (two n-vectors per measurement
// and one per restriction used to cost ~25× the forward pass on a 109 386-parameter network).
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

// numeric = (J(x⁺) − J(x⁻)) / 2ε against analytic = dθ·(x⁺ − x⁻) / 2ε, with x± = θ ± ε·v as rounded:
// the displacement actually taken, as full mode divides by the steps actually taken. θᵢ ± ε·vᵢ rounds
// to ulp(θᵢ), which for |θᵢ| ≫ ε is a sizeable part of the step; dθ·v would count that as an error.
Directional measure(const char* function, const LossEvaluator& evaluator, std::span<const double> theta,
                    std::span<const double> analytic, const Direction& v, const Probe& probe, double eps,
                    std::size_t label, std::vector<double>& point) {
  const double up = step_along(point, theta, analytic, v, probe, eps);
  const double plus = evaluator.at(point);
  const double down = step_along(point, theta, analytic, v, probe, -eps);
  const double minus = evaluator.at(point);
  restore(point, theta, probe);
  check_finite_value(function, plus, label, " + ");
  check_finite_value(function, minus, label, " − ");
  Directional d;
  d.numeric = (plus - minus) / (2 * eps);
  d.analytic = (up - down) / (2 * eps);
  d.rounding = rounding_bound(plus, minus, 2 * eps);
  return d;
}

/** The inputs every phase reads. */
struct DirectionalRun {
  const char* function;
  const LossEvaluator& evaluator;
  std::span<const double> theta, analytic;
  std::span<const TensorInfo> tensors;
  const GradcheckOptions& options;
  std::vector<Direction> directions;
  std::size_t per_direction = 0;  // the whole direction, then one restriction per tensor
  std::vector<Directional> results;  // direction-major: results[d·per_direction + r]
};

/** Every (direction, restriction) pair is independent: one parallel loop over all of them. */
void measure_all(DirectionalRun& run, PointSlots& points) {
  const std::size_t k = run.options.directions, n = run.theta.size();
  run.directions.resize(k);
  for (std::size_t d = 0; d < k; ++d)
    run.directions[d] = {run.options.seed + 0x9e37 * (d + 1), n > 0 ? 1 / std::sqrt(static_cast<double>(n)) : 0.0};
  run.results.assign(k * run.per_direction, Directional{});
  parallel_for(
      run.results.size(), run.evaluator.work_per_parameter() * 2,
      [&](std::size_t item) {
        const std::size_t d = item / run.per_direction, r = item % run.per_direction;
        const Direction& v = run.directions[d];
        Probe probe{0, n, 1.0};
        if (r > 0) {
          const TensorInfo& t = run.tensors[r - 1];
          probe = unit_probe(v, t.offset, t.offset + t.rows * t.cols);
        }
        run.results[item] = measure(run.function, run.evaluator, run.theta, run.analytic, v, probe,
                                    run.options.eps, d, points.mine());
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
                                             PointSlots& points, std::size_t& evaluations) {
  const Direction& v = run.directions[worst_d];
  std::size_t begin = 0, end = t.rows;
  while (end - begin > 1) {
    const std::size_t mid = begin + (end - begin) / 2;
    const Probe lower_probe = unit_probe(v, t.offset + begin * t.cols, t.offset + mid * t.cols);
    const Probe upper_probe = unit_probe(v, t.offset + mid * t.cols, t.offset + end * t.cols);
    const Directional lower = measure(run.function, run.evaluator, run.theta, run.analytic, v, lower_probe,
                                      run.options.eps, worst_d, points.mine());
    const Directional upper = measure(run.function, run.evaluator, run.theta, run.analytic, v, upper_probe,
                                      run.options.eps, worst_d, points.mine());
    evaluations += 4;
    const double el = std::abs(lower.numeric - lower.analytic), eu = std::abs(upper.numeric - upper.analytic);
    if (el >= eu) end = mid; else begin = mid;
  }
  return {begin, end};
}

/** The check of tensor r − 1 from its restricted measurements; a failing one is fingerprinted and localized. */
TensorCheck tensor_result(const DirectionalRun& run, std::size_t r, PointSlots& points, std::size_t& evaluations) {
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
  const auto [begin, end] = localize(run, t, worst_d, points, evaluations);
  c.suspect_row_begin = begin;
  c.suspect_row_end = end;
  c.diagnosis = describe(c.fingerprint, c.fit_alpha, 0, c.name) + "; largest discrepancy in rows [" +
                std::to_string(begin) + ", " + std::to_string(end) + ")";
  return c;
}

/** The Taylor-remainder tests: the whole first direction, and its restriction to every tensor not great. */
void run_taylor(const DirectionalRun& run, double j0, PointSlots& points, GradcheckReport& report) {
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
  std::vector<TaylorTest> tests = taylor_tests(run.function, run.evaluator, j0, run.theta, run.analytic, v, probes,
                                               run.options, points, report.evaluations);
  report.taylor = std::move(tests.front());
  for (std::size_t q = 0; q < tested.size(); ++q) report.tensors[tested[q]].taylor = std::move(tests[q + 1]);
}

}  // namespace

Probe unit_probe(const Direction& v, std::size_t begin, std::size_t end) {
  const double norm2 = static_cast<double>(end - begin) * v.magnitude * v.magnitude;
  return {begin, end, norm2 > 0 ? 1 / std::sqrt(norm2) : 0};
}

PointSlots::PointSlots(std::span<const double> theta) : theta_(theta), copies_(thread_slots()) {}

std::vector<double>& PointSlots::mine() {
  std::vector<double>& x = copies_[thread_slot()];
  if (x.size() != theta_.size()) x.assign(theta_.begin(), theta_.end());
  return x;
}

double step_along(std::span<double> point, std::span<const double> theta, std::span<const double> analytic,
                  const Direction& v, const Probe& probe, double h) {
  // Four partial sums in a fixed order: the same value for any thread count, without one long
  // dependency chain (on a large network the sum would cost a third of the evaluation).
  double partial[4] = {0, 0, 0, 0};
  const double step = h * (v.magnitude * probe.scale);
  std::uint64_t signs = 0;
  for (std::size_t i = probe.begin; i < probe.end; ++i) {
    if (i == probe.begin || i % 64 == 0) signs = v.signs(i / 64) >> (i % 64);
    point[i] = theta[i] + ((signs & 1) != 0 ? -step : step);
    signs >>= 1;
    partial[(i - probe.begin) % 4] += analytic[i] * (point[i] - theta[i]);
  }
  return (partial[0] + partial[1]) + (partial[2] + partial[3]);
}

void restore(std::span<double> point, std::span<const double> theta, const Probe& probe) {
  std::copy(theta.begin() + static_cast<std::ptrdiff_t>(probe.begin), theta.begin() + static_cast<std::ptrdiff_t>(probe.end),
            point.begin() + static_cast<std::ptrdiff_t>(probe.begin));
}

void run_directional(const char* function, const LossEvaluator& evaluator, double j0, std::span<const double> theta,
                     std::span<const double> analytic, std::span<const TensorInfo> layout,
                     const GradcheckOptions& options, GradcheckReport& report) {
  const std::size_t n = theta.size(), k = options.directions;
  const TensorInfo whole{"theta", 0, n, 1};
  DirectionalRun run{function, evaluator, theta, analytic,
                     layout.empty() ? std::span<const TensorInfo>(&whole, 1) : layout, options, {}, 0, {}};
  run.per_direction = 1 + run.tensors.size();
  // k directions of n entries, and k·(1 + tensors) results, are allocated below.
  checked_array_bytes(function, "options.directions × the parameter count",
                      checked_mul(function, "options.directions × n", k, n), sizeof(double));
  checked_array_bytes(function, "options.directions × the tensor count",
                      checked_mul(function, "options.directions × (1 + tensors)", k, run.per_direction),
                      sizeof(Directional));
  PointSlots points(theta);
  measure_all(run, points);
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
    TensorCheck c = tensor_result(run, r, points, report.evaluations);
    if (static_cast<int>(c.verdict) > static_cast<int>(report.verdict)) report.verdict = c.verdict;
    report.tensors.push_back(std::move(c));
  }
  run_taylor(run, j0, points, report);
}

}  // namespace mlpkit::detail
