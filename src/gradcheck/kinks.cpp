// Kinks as brackets: an entry whose central difference straddles a ReLU / leaky-ReLU kink has two
// one-sided derivatives, not one. Each is taken by a full evaluation on its side, and the analytic
// derivative is judged against the interval they span (caffe#1334): inside, "kink, in bracket",
// agreeing; outside, a failure fingerprinted kink_outside_bracket.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "gradcheck/gradcheck_internal.hpp"

namespace mlpkit::detail {
namespace {

/** The bracket's slack in units of great_below·(|left| + |right|): the O(ε·J'') of one-sided differences. */
constexpr double kTruncationSlack = 10;
/** And in units of their rounding bounds. */
constexpr double kRoundingSlack = 4;

const KinkBracket* find_bracket(std::span<const KinkBracket> brackets, std::size_t index) {
  const auto it = std::lower_bound(brackets.begin(), brackets.end(), index,
                                   [](const KinkBracket& b, std::size_t i) { return b.index < i; });
  return it != brackets.end() && it->index == index ? &*it : nullptr;
}

}  // namespace

void bracket_kinks(const LossEvaluator& evaluator, std::span<const double> theta, GradcheckResults& results,
                   const GradcheckOptions& options) {
  results.brackets.clear();
  std::vector<double> point;
  double j0 = 0;
  for (std::size_t i = 0; i < results.kink.size(); ++i) {
    if (!results.kink[i] || std::isnan(results.numeric[i])) continue;
    if (point.empty()) {
      point.assign(theta.begin(), theta.end());
      j0 = evaluator.at(point);  // the same code path as the two sides
      ++results.kink_evaluations;
    }
    const Steps h = steps_for("gradcheck", theta[i], options.eps, i);
    point[i] = theta[i] + options.eps;
    const double plus = evaluator.at(point);
    point[i] = theta[i] - options.eps;
    const double minus = evaluator.at(point);
    point[i] = theta[i];
    check_finite_value("gradcheck", plus, i, "+");
    check_finite_value("gradcheck", minus, i, "−");
    results.kink_evaluations += 2;
    KinkBracket b{i, (j0 - minus) / h.minus, (plus - j0) / h.plus, 0};
    b.slack = kRoundingSlack * (rounding_bound(plus, j0, h.plus) + rounding_bound(j0, minus, h.minus)) +
              kTruncationSlack * options.great_below * (std::abs(b.left) + std::abs(b.right));
    results.brackets.push_back(b);
  }
}

void apply_brackets(GradcheckReport& report, std::span<const KinkBracket> brackets) {
  for (GradcheckEntry& e : report.kinks) {
    const KinkBracket* b = find_bracket(brackets, e.index);
    if (b == nullptr) continue;
    e.left = b->left;
    e.right = b->right;
    const double lo = std::min(b->left, b->right) - b->slack, hi = std::max(b->left, b->right) + b->slack;
    e.in_bracket = e.analytic >= lo && e.analytic <= hi;
    if (e.in_bracket) continue;
    for (TensorCheck& t : report.tensors) {
      if (e.index < t.offset || e.index >= t.offset + t.total) continue;
      ++t.kinks_outside;
      t.verdict = Verdict::wrong;
      t.agreement = Agreement::disagree;
      if (t.fingerprint == Fingerprint::none) {
        t.fingerprint = Fingerprint::kink_outside_bracket;
        std::ostringstream out;
        out.precision(6);
        out << "d" << t.name << " at a ReLU kink lies outside the one-sided derivatives: analytic " << e.analytic
            << " not in [" << std::min(b->left, b->right) << ", " << std::max(b->left, b->right) << "] (row "
            << e.row << ", col " << e.col << ")";
        t.diagnosis = out.str();
      }
    }
    report.verdict = Verdict::wrong;
    if (report.scheme != DifferenceScheme::central) report.agreement = Agreement::disagree;
  }
}

}  // namespace mlpkit::detail
