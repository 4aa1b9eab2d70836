// The perturbation loop: the parallel run of work items with progress and cancel, the report from
// the results, and the up-front checks. The plan (which entries, which items) lives in plan.cpp,
// the directional mode in directional.cpp.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "gradcheck/gradcheck_internal.hpp"
#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit::detail {

double rounding_bound(double j_plus, double j_minus, double step_sum) {
  // Each J carries a few ulps of rounding from its sums; their difference is divided by the step.
  // A J that rounds through float (both values exactly floats: for a J computed in double a chance
  // of 2⁻⁵⁸) carries float's rounding, which double's would understate 2²⁹ times.
  // (A zero, or a value passed as 0 by a caller that bounds a sum of magnitudes, says nothing.)
  const bool float_valued = j_plus != 0 && j_minus != 0 &&
                            static_cast<double>(static_cast<float>(j_plus)) == j_plus &&
                            static_cast<double>(static_cast<float>(j_minus)) == j_minus;
  const double u = float_valued ? 0x1p-24 : 0x1p-53;
  return 4.0 * u * (std::abs(j_plus) + std::abs(j_minus)) / step_sum;
}

Steps steps_for(const char* function, double theta_i, double eps, std::size_t i) {
  // The steps actually representable: for |θᵢ| ≫ ε, θᵢ ± ε rounds and the nominal ε would be a lie.
  const double plus = (theta_i + eps) - theta_i;
  const double minus = theta_i - (theta_i - eps);
  if (!(plus + minus > 0))
    fail(function, "eps (", eps, ") vanishes next to θ[", i, "] = ", theta_i, ": the step taken is 0");
  return {plus, minus};
}

void check_finite_value(const char* function, double j, std::size_t i, const char* side) {
  if (!std::isfinite(j))
    fail(function, "J is not finite (", j, ") at θ", side, "ε·e_i for parameter index ", i,
         ": the numeric gradient there is meaningless");
}

void check_options(const char* function, const GradcheckOptions& options) {
  if (!(options.eps > 0) || !std::isfinite(options.eps))
    fail(function, "options.eps (", options.eps, ") must be positive and finite");
  if (!(options.great_below > 0) || !(options.great_below <= options.wrong_from) || !std::isfinite(options.wrong_from))
    fail(function, "options thresholds must satisfy 0 < great_below (", options.great_below, ") <= wrong_from (",
         options.wrong_from, ")");
  if (options.threads < 0) fail(function, "options.threads (", options.threads, ") must be 0 (default) or positive");
  check_enum(function, "options.mode", options.mode);
  check_enum(function, "options.evaluator", options.evaluator);
  check_enum(function, "options.scheme", options.scheme);
  if (options.scheme != DifferenceScheme::central) {
    if (!(options.initial_step > 0) || !std::isfinite(options.initial_step))
      fail(function, "options.initial_step (", options.initial_step, ") must be positive and finite");
    if (!(options.analytic_roundoff > 0) || !(options.analytic_roundoff < 1))
      fail(function, "options.analytic_roundoff (", options.analytic_roundoff, ") must be in (0, 1)");
    if (options.mode == GradcheckMode::directional)
      fail(function, "options.scheme (", enum_name(function, "options.scheme", options.scheme),
           ") is not supported in directional mode: use central");
  }
  if (options.mode == GradcheckMode::sampled && options.samples_per_tensor == 0)
    fail(function, "options.samples_per_tensor must be positive in sampled mode");
  if (options.mode == GradcheckMode::directional && options.directions == 0)
    fail(function, "options.directions must be positive in directional mode");
  if (options.detection_probability != 0 && !(options.detection_probability > 0 && options.detection_probability < 1))
    fail(function, "options.detection_probability (", options.detection_probability, ") must be 0 (use samples_per_tensor) or in (0, 1)");
  if (!(options.detection_fraction > 0 && options.detection_fraction <= 1))
    fail(function, "options.detection_fraction (", options.detection_fraction, ") must be in (0, 1]");
  if (options.taylor_steps != 0 && (options.taylor_steps < 4 || options.taylor_steps > 64))
    fail(function, "options.taylor_steps (", options.taylor_steps, ") must be 0 (no Taylor test) or in [4, 64]");
  if (!(options.taylor_largest_step > 0) || !std::isfinite(options.taylor_largest_step))
    fail(function, "options.taylor_largest_step (", options.taylor_largest_step, ") must be positive and finite");
  if (!(options.noise_floor >= 0) || !std::isfinite(options.noise_floor))
    fail(function, "options.noise_floor (", options.noise_floor, ") must be finite and >= 0");
}

void check_layout(const char* function, std::span<const TensorInfo> layout, std::size_t n) {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const TensorInfo& t : layout) {
    const std::size_t count = checked_mul(function, "layout slice size", t.rows, t.cols);
    if (t.offset > n || count > n - t.offset)
      fail(function, "layout slice '", t.name, "' (offset ", t.offset, ", ", t.rows, " × ", t.cols,
           ") does not fit in θ of ", n, " entries");
    ranges.emplace_back(t.offset, t.offset + count);
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t k = 1; k < ranges.size(); ++k)
    if (ranges[k].first < ranges[k - 1].second)
      fail(function, "layout slices overlap at θ[", ranges[k].first, "]");
}

std::size_t thread_slots() {
  const int outer = omp_in_parallel() ? omp_get_thread_num() + 1 : 1;
  return static_cast<std::size_t>(std::max(num_threads(), outer));
}

std::size_t thread_slot() { return static_cast<std::size_t>(omp_get_thread_num()); }

ThreadLimit::ThreadLimit(int threads) {
  if (threads > 0) {
    previous_ = thread_limit_of_this_thread();
    set_thread_limit_of_this_thread(threads);
    active_ = true;
  }
}
ThreadLimit::~ThreadLimit() {
  if (active_) set_thread_limit_of_this_thread(previous_);
}

PackedResults run_items(const LossEvaluator& evaluator, const GradcheckPlan& plan, std::size_t first,
                        std::size_t last, const GradcheckOptions& options) {
  PackedResults block;
  block.first = first;
  // Where each item's values start in the packed block.
  std::vector<std::size_t> packed_at(last - first + 1, 0);
  for (std::size_t k = first; k < last; ++k) packed_at[k - first + 1] = packed_at[k - first] + plan.items[k].count;
  block.values.assign(kPackedPerEntry * packed_at.back(), 0.0);
  const std::size_t to_check = packed_at.back();

  // Without a progress callback one parallel round; with one, rounds of ~1/64 of the work so the
  // callback is called often enough to be useful and cancel quickly.
  const std::size_t items = last - first;
  const std::size_t round = options.progress ? std::max<std::size_t>(1, (items + 63) / 64) : std::max<std::size_t>(1, items);
  for (std::size_t begin = 0; begin < items; begin += round) {
    const std::size_t end = std::min(items, begin + round);
    parallel_for(
        end - begin, plan.work_per_item,
        [&](std::size_t k) {
          const std::size_t item = begin + k;
          const WorkItem& w = plan.items[first + item];
          std::vector<double> num(w.count), err(w.count), bound(w.count);
          std::vector<unsigned char> kinked(w.count);
          numeric_entries(evaluator, plan.indices(w), options, num, err, kinked, bound);
          double* out = block.values.data() + kPackedPerEntry * packed_at[item];
          for (std::size_t q = 0; q < w.count; ++q, out += kPackedPerEntry) {
            out[0] = num[q];
            out[1] = err[q];
            out[2] = kinked[q] ? 1.0 : 0.0;
            out[3] = bound[q];
          }
        },
        Schedule::balanced);
    block.done = end;
    if (options.progress && !options.progress(packed_at[end], to_check)) break;
  }
  block.values.resize(kPackedPerEntry * packed_at[block.done]);
  return block;
}

GradcheckResults::GradcheckResults(std::size_t n)
    : numeric(n, std::numeric_limits<double>::quiet_NaN()),
      rounding(n, 0.0),
      bound(n, std::numeric_limits<double>::quiet_NaN()),
      kink(n, 0) {}

void GradcheckResults::store(const GradcheckPlan& plan, std::size_t first, std::size_t done,
                             std::span<const double> packed) {
  const double* in = packed.data();
  for (std::size_t k = first; k < first + done; ++k) {
    for (const std::size_t i : plan.indices(plan.items[k])) {
      numeric[i] = in[0];
      rounding[i] = in[1];
      kink[i] = in[2] != 0 ? 1 : 0;
      bound[i] = in[3];
      in += kPackedPerEntry;
    }
    checked += plan.items[k].count;
  }
}

GradcheckReport finish_gradcheck(GradcheckPlan& plan, std::span<const double> theta, std::span<const double> analytic,
                                 const GradcheckOptions& options, GradcheckResults&& results) {
  GradcheckReport report = std::move(plan.report);
  const std::size_t n = theta.size();
  report.evaluations += 2 * scheme_steps(options.scheme) * results.checked + results.kink_evaluations;
  report.checked = results.checked;
  report.coverage = n == 0 ? 1.0 : static_cast<double>(results.checked) / static_cast<double>(n);
  report.cancelled = results.cancelled;
  fill_report(report, theta, analytic, results.numeric, results.rounding, results.kink, plan.tensors, options);
  if (options.scheme != DifferenceScheme::central) {
    fill_agreement(report, analytic, results.numeric, results.bound, results.kink, options);
    report.numeric_error_bound = std::move(results.bound);
  }
  apply_brackets(report, results.brackets);
  report.numeric_gradient = std::move(results.numeric);
  return report;
}

GradcheckReport run_gradcheck(const char* function, const LossEvaluator& evaluator, std::span<const double> theta,
                              std::span<const double> analytic, std::span<const TensorInfo> layout,
                              const GradcheckOptions& options) {
  ThreadLimit thread_limit(options.threads);
  GradcheckPlan plan = plan_gradcheck(function, evaluator, theta, analytic, layout, options);
  if (options.mode == GradcheckMode::directional) {
    run_directional(function, evaluator, plan, theta, analytic, options);
    return std::move(plan.report);
  }
  const PackedResults block = run_items(evaluator, plan, 0, plan.items.size(), options);
  GradcheckResults results(theta.size());
  results.store(plan, block.first, block.done, block.values);
  results.cancelled = block.done < plan.items.size();
  bracket_kinks(evaluator, theta, results, options);
  return finish_gradcheck(plan, theta, analytic, options, std::move(results));
}

}  // namespace mlpkit::detail
