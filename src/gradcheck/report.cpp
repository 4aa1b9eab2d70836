// From numeric and analytic gradients to a report: per-tensor errors, worst entries, verdicts, kinks.
// Every sum runs serially in index order, so the report is bitwise the same for any thread count.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "gradcheck/gradcheck_internal.hpp"
#include "gradcheck/sampling.hpp"

namespace mlpkit::detail {

std::size_t layer_of(const std::string& name) {
  std::size_t digits = 0;
  while (digits < name.size() && std::isdigit(static_cast<unsigned char>(name[name.size() - 1 - digits]))) ++digits;
  if (digits == 0 || digits > 9) return 0;
  return static_cast<std::size_t>(std::stoul(name.substr(name.size() - digits)));
}

TensorCheck tensor_check_for(const TensorInfo& t) {
  TensorCheck c;
  c.name = t.name;
  c.layer = layer_of(t.name);
  c.offset = t.offset;
  c.rows = t.rows;
  c.cols = t.cols;
  c.total = t.rows * t.cols;
  return c;
}

Verdict verdict_for(double relative_error, const GradcheckOptions& options) {
  if (!(relative_error < options.wrong_from)) return Verdict::wrong;  // NaN is wrong, never a pass
  return relative_error < options.great_below ? Verdict::great : Verdict::suspicious;
}

namespace {

/** Sums behind one relative error. */
struct Norms {
  double num2 = 0, ana2 = 0, diff2 = 0, noise2 = 0;

  void add(double num, double ana, double noise) {
    num2 += num * num;
    ana2 += ana * ana;
    diff2 += (num - ana) * (num - ana);
    noise2 += noise * noise;
  }
  double relative_error(const GradcheckOptions& options) const {
    const double diff = std::sqrt(diff2);
    double denominator = std::sqrt(num2) + std::sqrt(ana2);
    if (options.noise_floor > 0)
      denominator = std::max(denominator, options.noise_floor * std::sqrt(noise2) / options.great_below);
    return denominator == 0 ? 0.0 : diff / denominator;
  }
};

Verdict worse(Verdict a, Verdict b) { return static_cast<int>(a) > static_cast<int>(b) ? a : b; }

}  // namespace

void fill_report(GradcheckReport& report, std::span<const double> theta, std::span<const double> analytic,
                 std::span<const double> numeric, std::span<const double> rounding,
                 std::span<const unsigned char> kink, std::span<const TensorInfo> layout,
                 const GradcheckOptions& options) {
  Norms global;
  // Global figures over every checked entry in θ order (entries outside all slices count too).
  for (std::size_t i = 0; i < numeric.size(); ++i)
    if (!std::isnan(numeric[i]) && !kink[i]) global.add(numeric[i], analytic[i], rounding[i]);
  report.relative_error = global.relative_error(options);
  Verdict verdict = verdict_for(report.relative_error, options);

  for (const TensorInfo& t : layout) {
    TensorCheck c = tensor_check_for(t);
    c.worst.layer = c.layer;
    Norms norms;
    double worst = -1;
    // Row and column of entry q = row·cols + col, kept by counting rather than divided out per entry.
    std::size_t row = 0, col = 0;
    const auto entry_at = [&](std::size_t i) {
      return GradcheckEntry{i, c.layer, row, col, numeric[i], analytic[i]};
    };
    for (std::size_t q = 0; q < c.total; ++q) {
      const std::size_t i = t.offset + q;
      if (!std::isnan(numeric[i])) {
        ++c.checked;
        if (kink[i]) {
          ++c.kinks;
          report.kinks.push_back(entry_at(i));
        } else {
          norms.add(numeric[i], analytic[i], rounding[i]);
          const double diff = std::abs(numeric[i] - analytic[i]);
          if (diff > worst || std::isnan(diff)) {
            worst = diff;
            c.worst = entry_at(i);
          }
        }
      }
      if (++col == t.cols) {
        col = 0;
        ++row;
      }
    }
    c.max_abs_diff = std::max(worst, 0.0);
    c.relative_error = norms.relative_error(options);
    c.verdict = verdict_for(c.relative_error, options);
    verdict = worse(verdict, c.verdict);  // a bad small tensor must not hide behind a large good one
    report.tensors.push_back(std::move(c));
  }
  report.verdict = verdict;
  fill_hit_probabilities(report);
  fingerprint_tensors(report, theta, analytic, numeric, kink, options);
}

}  // namespace mlpkit::detail
