// check_vjp: a layer's vector–Jacobian product against central differences of uᵀf. The check runs
// gradcheck's loop over (input entry, cotangent) pairs: pair (i, k) is entry i·K + k of an augmented
// θ, so a slice of r × c inputs becomes a slice of r × c·K pairs and the per-tensor report, the
// fingerprints and the parallel loop serve it unchanged. A work item holds whole groups of K pairs,
// so f is evaluated once per perturbation for all K cotangents.
#include <cmath>
#include <cstdint>
#include <random>

#include "gradcheck/gradcheck_internal.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {
namespace {

constexpr const char* kFunction = "check_vjp";

/** Throws unless f returned `outputs` finite values at x (side: "", "+ε·e_i", "−ε·e_i"; i: the input). */
void check_outputs(const std::vector<double>& y, std::size_t outputs, const char* side, std::size_t i) {
  const bool at_x = side[0] == '\0';
  if (y.size() != outputs)
    fail(kFunction, "f returned ", y.size(), " outputs at x", side, at_x ? "" : concat(" for input index ", i),
         " but ", outputs, " at x");
  for (std::size_t j = 0; j < y.size(); ++j)
    if (!std::isfinite(y[j]))
      fail(kFunction, "f returned a non-finite output ", j, " (", y[j], ") at x", side,
           at_x ? "" : concat(" for input index ", i), ": the numeric derivative there is meaningless");
}

class VjpEvaluator final : public LossEvaluator {
 public:
  VjpEvaluator(const VectorFunction& f, std::span<const double> x, std::span<const double> cotangents,
               std::size_t count, double eps)
      : f_(f), x_(x), u_(cotangents), count_(count), outputs_(cotangents.size() / count), eps_(eps),
        scratch_(thread_slots()) {}

  std::size_t size() const override { return x_.size() * count_; }

  /** u₀ᵀf(x): what plan_gradcheck evaluates twice to refuse a non-deterministic f. */
  double value() const override {
    const std::vector<double> y = f_(x_);
    check_outputs(y, outputs_, "", 0);
    double sum = 0;
    for (std::size_t j = 0; j < outputs_; ++j) sum += u_[j] * y[j];
    return sum;
  }

  // For pair p = i·K + k: (uₖᵀf(x + h⁺eᵢ) − uₖᵀf(x − h⁻eᵢ)) / (h⁺ + h⁻), summed as uₖᵀ(f⁺ − f⁻) so
  // the two totals are never subtracted. Consecutive pairs of one input share its two evaluations.
  double eps() const override { return eps_; }
  void differences_at(double step, std::span<const std::size_t> indices, std::span<double> numeric,
                      std::span<double> rounding, std::span<unsigned char> kink) const override {
    Scratch& s = scratch();
    std::size_t evaluated = x_.size();  // no input yet
    Steps h{0, 0};
    for (std::size_t q = 0; q < indices.size(); ++q) {
      const std::size_t i = indices[q] / count_, k = indices[q] % count_;
      if (i != evaluated) {
        h = steps_for(kFunction, x_[i], step, i);
        s.x[i] = x_[i] + step;
        s.plus = f_(s.x);
        s.x[i] = x_[i] - step;
        s.minus = f_(s.x);
        s.x[i] = x_[i];
        check_outputs(s.plus, outputs_, "+ε·e_i", i);
        check_outputs(s.minus, outputs_, "−ε·e_i", i);
        evaluated = i;
      }
      const double* u = u_.data() + k * outputs_;
      double difference = 0, magnitude = 0;
      for (std::size_t j = 0; j < outputs_; ++j) {
        difference += u[j] * (s.plus[j] - s.minus[j]);
        magnitude += std::abs(u[j]) * (std::abs(s.plus[j]) + std::abs(s.minus[j]));
      }
      numeric[q] = difference / (h.plus + h.minus);
      rounding[q] = rounding_bound(magnitude, 0, h.plus + h.minus);
      kink[q] = 0;
    }
  }

  double at(std::span<const double>) const override { fail(kFunction, "directional mode is not supported"); }

  /** Four inputs per item, each with all its K pairs. */
  std::size_t batch() const override { return 4 * count_; }
  double work_per_parameter() const override { return 1e6; }  // unknown f: assume it is worth a thread

 private:
  struct Scratch {
    std::vector<double> x, plus, minus;
  };
  /** This thread's copy of x (always restored after a perturbation) and its two outputs. */
  Scratch& scratch() const {
    Scratch& s = scratch_[thread_slot()];
    if (s.x.size() != x_.size()) s.x.assign(x_.begin(), x_.end());
    return s;
  }

  const VectorFunction& f_;
  std::span<const double> x_, u_;
  std::size_t count_, outputs_;
  double eps_;
  mutable std::vector<Scratch> scratch_;
};

}  // namespace

std::vector<double> make_cotangents(std::size_t outputs, std::size_t random, bool units, std::uint64_t seed) {
  std::vector<double> u;
  std::mt19937_64 rng(seed);
  // 53 random bits per value, scaled by hand: reproducible across standard libraries.
  for (std::size_t k = 0; k < random * outputs; ++k)
    u.push_back(static_cast<double>(rng() >> 11) * 0x1p-52 - 1.0);
  if (units)
    for (std::size_t k = 0; k < outputs; ++k)
      for (std::size_t j = 0; j < outputs; ++j) u.push_back(j == k ? 1.0 : 0.0);
  return u;
}

std::vector<TensorInfo> pair_layout(std::span<const TensorInfo> layout, std::size_t n, std::size_t count,
                                    const char* name) {
  if (layout.empty()) return {{name, 0, n, count}};
  std::vector<TensorInfo> pairs;
  for (const TensorInfo& t : layout) pairs.push_back({t.name, t.offset * count, t.rows, t.cols * count});
  return pairs;
}

namespace {

/** An entry of pair coordinates back in x's: its input index, column and cotangent. */
void to_input(GradcheckEntry& e, std::size_t count, bool column_pairs) {
  e.cotangent = e.index % count;
  e.index /= count;
  e.col = column_pairs ? e.col / count : 0;
}

}  // namespace

void to_input_coordinates(GradcheckReport& report, std::span<const TensorInfo> layout, std::size_t count) {
  const bool column_pairs = !layout.empty();
  for (TensorCheck& t : report.tensors) {
    t.offset /= count;
    t.cols = column_pairs ? t.cols / count : 1;
    to_input(t.worst, count, column_pairs);
  }
}

namespace {

/** Two evaluations of f per step and input with at least one checked pair, plus the two at x. */
std::size_t vjp_evaluations(const GradcheckReport& report, std::size_t count, std::size_t steps) {
  std::size_t inputs = 0;
  for (std::size_t i = 0; i * count < report.numeric_gradient.size(); ++i) {
    bool any = false;
    for (std::size_t k = 0; k < count; ++k) any = any || !std::isnan(report.numeric_gradient[i * count + k]);
    inputs += any ? 1 : 0;
  }
  return 2 + 2 * steps * inputs;
}

}  // namespace


VjpCheck prepare_vjp_check(const VectorFunction& f, std::span<const double> x, const VjpFunction& vjp,
                           std::span<const TensorInfo> layout, const GradcheckOptions& options) {
  if (!f) fail(kFunction, "f is empty");
  if (!vjp) fail(kFunction, "vjp is empty");
  check_options(kFunction, options);
  if (options.mode == GradcheckMode::directional)
    fail(kFunction, "options.mode (directional) is not supported: use full or sampled");
  check_pointer(kFunction, "x", x.data(), x.size());
  check_layout(kFunction, layout, x.size());

  const std::vector<double> y = f(x);
  if (y.empty()) fail(kFunction, "f returned no outputs at x");
  check_outputs(y, y.size(), "", 0);
  VjpCheck c;
  c.outputs = y.size();
  const std::size_t n = x.size();
  const bool units = c.outputs <= options.unit_cotangents_up_to;
  c.count = options.cotangents + (units ? c.outputs : 0);
  if (c.count == 0)
    fail(kFunction, "options.cotangents is 0 and f has ", c.outputs, " outputs, more than options.unit_cotangents_up_to (",
         options.unit_cotangents_up_to, "): no cotangent to check");
  checked_array_bytes(kFunction, "the (input, cotangent) pairs", checked_mul(kFunction, "the pairs", n, c.count),
                      sizeof(double));
  c.cotangents = make_cotangents(c.outputs, options.cotangents, units, options.seed);

  // The analytic side: pair (i, k) holds vjp(x, uₖ)[i]; θ of the pairs repeats xᵢ for the W-fits.
  c.analytic.resize(n * c.count);
  c.theta.resize(n * c.count);
  for (std::size_t k = 0; k < c.count; ++k) {
    const std::vector<double> g = vjp(x, std::span<const double>(c.cotangents).subspan(k * c.outputs, c.outputs));
    if (g.size() != n) fail(kFunction, "vjp returned ", g.size(), " entries but x has ", n, " (cotangent ", k, ")");
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(g[i]))
        fail(kFunction, "vjp returned a non-finite value (", g[i], ") at entry ", i, " for cotangent ", k);
      c.analytic[i * c.count + k] = g[i];
      c.theta[i * c.count + k] = x[i];
    }
  }
  c.evaluator = std::make_unique<VjpEvaluator>(f, x, c.cotangents, c.count, options.eps);
  c.options = options;
  c.options.threads = 0;
  c.pairs = pair_layout(layout, n, c.count, "x");
  return c;
}

GradcheckReport finish_vjp_check(VjpCheck&& c, GradcheckReport report, std::span<const TensorInfo> layout) {
  to_input_coordinates(report, layout, c.count);
  report.evaluations = vjp_evaluations(report, c.count, scheme_steps(c.options.scheme));
  report.cotangents = c.count;
  report.outputs = c.outputs;
  report.cotangent_values = std::move(c.cotangents);
  return report;
}

}  // namespace mlpkit::detail

namespace mlpkit {

GradcheckReport check_vjp(const VectorFunction& f, std::span<const double> x, const VjpFunction& vjp,
                          std::span<const TensorInfo> layout, const GradcheckOptions& options) {
  using namespace detail;
  ThreadLimit limit(options.threads);  // before the evaluator sizes its per-thread copies
  VjpCheck c = prepare_vjp_check(f, x, vjp, layout, options);
  GradcheckReport report = run_gradcheck(kFunction, *c.evaluator, c.theta, c.analytic, c.pairs, c.options);
  return finish_vjp_check(std::move(c), std::move(report), layout);
}

}  // namespace mlpkit
