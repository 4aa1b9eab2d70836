// Extrapolated differences (richardson, ridders): central differences of one work item at a
// shrinking sequence of steps, a Richardson tableau per entry, a value with an error bound, and the
// three-way agreement of each entry and tensor with the analytic derivative.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "gradcheck/gradcheck_internal.hpp"

namespace mlpkit::detail {
namespace {

/** The most steps of any scheme (ridders). */
constexpr std::size_t kMaxSteps = 6;
/** Ridders stops once a new diagonal entry moved this many error estimates from the last (Numerical Recipes' SAFE). */
constexpr double kRiddersSafe = 2;
/** An entry agrees within this many bounds, and disagrees beyond kDisagreeMargin of them. */
constexpr double kAgreeMargin = 4, kDisagreeMargin = 16;
/**
 * A tensor disagrees when its coherence (TensorCheck::coherence) passes this: correct float networks
 * stay within ±2.2 (50 networks, ridders), a 1 % error reaches 12 and more.
 */
constexpr double kCoherenceLimit = 6;
/** The analytic side's own rounding, in units of analytic_roundoff·(|num| + |ana|): a backward pass carries a few ulps. */
constexpr double kAnalyticUlps = 64;

}  // namespace

double step_ratio(DifferenceScheme scheme) { return scheme == DifferenceScheme::richardson ? 2.0 : 1.4; }

// The Richardson tableau over central differences d[s] at steps h₀/ratioˢ (error series in h²):
// t[j][s] = (ratio^2j·t[j−1][s] − t[j−1][s−1]) / (ratio^2j − 1), each with the error estimate
// max(|t[j][s] − t[j−1][s]|, |t[j][s] − t[j−1][s−1]|). richardson takes the last diagonal entry;
// ridders the entry of least estimated error, stopping once the diagonal drifts away from it.
Extrapolated extrapolate(std::span<const double> d, DifferenceScheme scheme) {
  const double ratio2 = step_ratio(scheme) * step_ratio(scheme);
  std::array<std::array<double, kMaxSteps>, kMaxSteps> t{};
  Extrapolated best{d[0], std::numeric_limits<double>::infinity()};
  t[0][0] = d[0];
  std::size_t last_row = d.size() - 1;
  for (std::size_t s = 1; s < d.size(); ++s) {
    t[0][s] = d[s];
    double factor = ratio2;
    Extrapolated last{};
    for (std::size_t j = 1; j <= s; ++j, factor *= ratio2) {
      t[j][s] = (factor * t[j - 1][s] - t[j - 1][s - 1]) / (factor - 1);
      last = {t[j][s], std::max(std::abs(t[j][s] - t[j - 1][s]), std::abs(t[j][s] - t[j - 1][s - 1]))};
      if (scheme == DifferenceScheme::ridders && last.error <= best.error) best = last;
    }
    if (scheme == DifferenceScheme::richardson) {
      best = last;
    } else if (std::abs(t[s][s] - t[s - 1][s - 1]) >= kRiddersSafe * best.error) {
      last_row = s;
      break;
    }
  }
  // The error estimate of a single entry is itself a difference of noisy values, and the least of
  // them (ridders' choice) is often small by chance when J carries rounding noise (a J computed in
  // float): widen the bound to the spread of the higher-order diagonal around the chosen value.
  for (std::size_t s = 2; s <= last_row; ++s) best.error = std::max(best.error, std::abs(t[s][s] - best.value));
  return best;
}

std::size_t scheme_steps(DifferenceScheme scheme) {
  switch (scheme) {
    case DifferenceScheme::richardson: return 4;
    case DifferenceScheme::ridders: return kMaxSteps;
    default: return 1;
  }
}

void numeric_entries(const LossEvaluator& evaluator, std::span<const std::size_t> indices,
                     const GradcheckOptions& options, std::span<double> numeric, std::span<double> rounding,
                     std::span<unsigned char> kink, std::span<double> bound) {
  const std::size_t count = indices.size(), steps = scheme_steps(options.scheme);
  if (steps == 1) {
    evaluator.differences(indices, numeric, rounding, kink);
    std::fill(bound.begin(), bound.end(), std::numeric_limits<double>::quiet_NaN());
    return;
  }
  // Column s: every entry of the item at step h₀/ratioˢ, one batched call (the incremental
  // evaluator runs it as one wide GEMM per layer).
  std::vector<double> columns(steps * count), column_rounding(count);
  std::vector<unsigned char> column_kink(count);
  std::fill(kink.begin(), kink.end(), 0);
  double step = options.initial_step;
  for (std::size_t s = 0; s < steps; ++s, step /= step_ratio(options.scheme)) {
    evaluator.differences_at(step, indices, std::span<double>(columns).subspan(s * count, count), column_rounding,
                             column_kink);
    for (std::size_t q = 0; q < count; ++q) kink[q] = kink[q] || column_kink[q];
  }
  // column_rounding now holds the finest step's rounding bound, the largest of all.
  std::array<double, kMaxSteps> d{};
  for (std::size_t q = 0; q < count; ++q) {
    for (std::size_t s = 0; s < steps; ++s) d[s] = columns[s * count + q];
    const Extrapolated e = extrapolate(std::span<const double>(d.data(), steps), options.scheme);
    numeric[q] = e.value;
    rounding[q] = column_rounding[q];
    bound[q] = e.error + column_rounding[q];
  }
}

namespace {

/** An entry's slack: its bound widened by the analytic side's rounding. */
double slack_of(double numeric, double analytic, double bound, const GradcheckOptions& options) {
  return bound + kAnalyticUlps * options.analytic_roundoff * (std::abs(numeric) + std::abs(analytic));
}

}  // namespace

Agreement agreement_for(double numeric, double analytic, double bound, const GradcheckOptions& options) {
  const double scale = std::abs(numeric) + std::abs(analytic);
  const double slack = slack_of(numeric, analytic, bound, options);
  const double distance = std::abs(numeric - analytic);
  if (!(distance <= kDisagreeMargin * slack)) return Agreement::disagree;  // NaN disagrees
  if (bound >= options.wrong_from * scale && scale > 0) return Agreement::unresolved;
  return distance <= kAgreeMargin * slack ? Agreement::agree : Agreement::unresolved;
}

void fill_agreement(GradcheckReport& report, std::span<const double> analytic, std::span<const double> numeric,
                    std::span<const double> bound, std::span<const unsigned char> kink,
                    const GradcheckOptions& options) {
  bool any_disagree = false, any_unresolved = false;
  for (TensorCheck& t : report.tensors) {
    double lined_up = 0, weight2 = 0;
    for (std::size_t i = t.offset; i < t.offset + t.total; ++i) {
      if (std::isnan(numeric[i]) || kink[i]) continue;
      switch (agreement_for(numeric[i], analytic[i], bound[i], options)) {
        case Agreement::agree: ++t.agreeing; break;
        case Agreement::disagree: ++t.disagreeing; break;
        default: ++t.unresolved; break;
      }
      const double slack = slack_of(numeric[i], analytic[i], bound[i], options);
      if (!(slack > 0) || !std::isfinite(slack)) continue;
      const double w = numeric[i] * slack;
      lined_up += w * std::clamp((analytic[i] - numeric[i]) / slack, -kAgreeMargin, kAgreeMargin);
      weight2 += w * w;
    }
    t.coherence = weight2 > 0 ? lined_up / std::sqrt(weight2) : 0.0;
    // Discrepancies each inside the per-entry margin but all along the gradient, beyond what errors
    // within their bounds give when independent: a scale error spread over the tensor (a 1 % error in
    // float, whose single entries stay within 16 bounds).
    const bool coherent = std::abs(t.coherence) > kCoherenceLimit;
    t.agreement = t.disagreeing > 0 || coherent ? Agreement::disagree
                  : t.unresolved > 0            ? Agreement::unresolved
                                                : Agreement::agree;
    any_disagree = any_disagree || t.agreement == Agreement::disagree;
    any_unresolved = any_unresolved || t.unresolved > 0;
  }
  report.agreement = any_disagree ? Agreement::disagree : any_unresolved ? Agreement::unresolved : Agreement::agree;
}

}  // namespace mlpkit::detail
