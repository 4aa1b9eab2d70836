// Fuzzes the generic gradcheck on random small quadratics J(θ) = ½θᵀAθ + bᵀθ + c, whose exact
// gradient Aθ + b is known: the exact gradient must pass (verdict great) in every mode; a gradient
// with one entry off by 10 % of its norm, scaled by 2 or sign-flipped must be called wrong (full and
// sampled modes, which look at every entry of these small problems); a J that turns non-finite at
// some evaluation must throw mlpkit::Error; a bad layout must throw mlpkit::Error. Reports are
// bitwise identical for any thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fuzz_support.hpp"
#include "mlpkit/gradcheck.hpp"

using namespace mlpkit;
using namespace mlpkit::fuzz;

namespace {

struct Quadratic {
  std::size_t n = 0;
  std::vector<double> a, b;  // a: n × n symmetric
  double c = 0;

  // J is summed in quad precision and rounded once, so it is within an ulp of |J|, the rounding the
  // checker's noise bound assumes of J. Summed in double, its terms (up to ~4 000 with scale 100, and
  // c up to 10) can cancel to a J of 0.04 whose rounding is then hundreds of its ulps: a 1-entry
  // slice with a gradient of 1.6e-3 was called suspicious so (difference 3e-9, all of it J's own
  // rounding, which a black-box J does not let the checker see).
  double operator()(std::span<const double> theta) const {
    __float128 j = c;
    for (std::size_t r = 0; r < n; ++r) {
      __float128 row = 0;
      for (std::size_t k = 0; k < n; ++k) row += static_cast<__float128>(a[r * n + k]) * theta[k];
      j += 0.5 * theta[r] * row + static_cast<__float128>(b[r]) * theta[r];
    }
    return static_cast<double>(j);
  }
  std::vector<double> gradient(std::span<const double> theta) const {
    std::vector<double> g(n);
    for (std::size_t r = 0; r < n; ++r) {
      g[r] = b[r];
      for (std::size_t k = 0; k < n; ++k) g[r] += a[r * n + k] * theta[k];
    }
    return g;
  }
};

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Quadratic q;
  q.n = in.ConsumeIntegralInRange<std::size_t>(1, 10);
  const double scale = in.ConsumeBool() ? 1.0 : uniform<double>(in, 0.01, 100);
  q.a.assign(q.n * q.n, 0);
  q.b.resize(q.n);
  for (std::size_t r = 0; r < q.n; ++r)
    for (std::size_t k = 0; k <= r; ++k) q.a[r * q.n + k] = q.a[k * q.n + r] = scale * uniform<double>(in, -1, 1);
  for (auto& v : q.b) v = scale * uniform<double>(in, -1, 1);
  q.c = uniform<double>(in, -10, 10);
  std::vector<double> theta(q.n);
  for (auto& v : theta) v = uniform<double>(in, -2, 2);
  const std::vector<double> exact = q.gradient(theta);

  GradcheckOptions options;
  options.mode = static_cast<GradcheckMode>(in.ConsumeIntegralInRange<int>(0, 2));
  options.threads = in.ConsumeIntegralInRange<int>(1, 4);
  options.seed = in.ConsumeIntegral<std::uint64_t>();
  const int scenario = in.ConsumeIntegralInRange<int>(0, 4);  // 0–1 exact, 2 perturbed, 3 non-finite J, 4 bad layout

  // An optional layout: the parameters cut into consecutive named slices.
  std::vector<TensorInfo> layout;
  if (in.ConsumeBool()) {
    std::size_t offset = 0;
    while (offset < q.n) {
      const std::size_t len = in.ConsumeIntegralInRange<std::size_t>(1, q.n - offset);
      layout.push_back({"t" + std::to_string(layout.size()), offset, len, 1});
      offset += len;
    }
  }
  const auto f = [&q](std::span<const double> t) { return q(t); };

  if (scenario == 3) {
    // J becomes non-finite on one side of one parameter.
    const std::size_t bad = in.ConsumeIntegralInRange<std::size_t>(0, q.n - 1);
    const double limit = theta[bad];
    const double poison = in.ConsumeBool() ? std::nan("") : HUGE_VAL;
    const auto f_bad = [&](std::span<const double> t) { return t[bad] > limit ? poison : q(t); };
    bool threw = false;
    try {
      gradcheck(f_bad, theta, exact, layout, options);
    } catch (const Error&) {
      threw = true;
    }
    // The directional mode steps along random directions, which move θ[bad] up in some of them.
    MLPKIT_FUZZ_CHECK(threw, "a J that is non-finite at θ + ε·e%zu did not throw (mode %d)", bad, int(options.mode));
    return 0;
  }
  if (scenario == 4) {
    std::vector<TensorInfo> wrong = layout.empty() ? std::vector<TensorInfo>{{"t0", 0, q.n, 1}} : layout;
    wrong.back().rows += in.ConsumeIntegralInRange<std::size_t>(1, 3);  // past the end of θ
    bool threw = false;
    try {
      gradcheck(f, theta, exact, wrong, options);
    } catch (const Error&) {
      threw = true;
    }
    MLPKIT_FUZZ_CHECK(threw, "a layout slice past the end of θ was accepted");
    return 0;
  }

  std::vector<double> analytic = exact;
  const bool perturbed = scenario == 2;
  if (perturbed) {
    const double g_norm = norm(exact);
    // The extra offset on entry 0 (so that a zero gradient is also wrong) goes away from the exact
    // value, with the sign of exact[0]: it must never cancel the scaling (2·g + 0.1 ≈ g for g ≈ −0.1).
    const double away = 0.1 * (g_norm + 1) * (exact[0] < 0 ? -1.0 : 1.0);
    switch (in.ConsumeIntegralInRange<int>(0, 2)) {
      case 0:
        analytic[in.ConsumeIntegralInRange<std::size_t>(0, q.n - 1)] += (in.ConsumeBool() ? 0.1 : -0.1) * (g_norm + 1);
        break;
      case 1:
        for (auto& g : analytic) g *= 2;
        analytic[0] += away;
        break;
      default:
        for (auto& g : analytic) g = -g;
        analytic[0] -= away;
        break;
    }
    // Directional checks see a wrong entry only through random projections: skip them here.
    if (options.mode == GradcheckMode::directional) options.mode = GradcheckMode::full;
  }

  const GradcheckReport report = gradcheck(f, theta, analytic, layout, options);
  GradcheckOptions serial_options = options;
  serial_options.threads = 1;
  const GradcheckReport serial = gradcheck(f, theta, analytic, layout, serial_options);
  MLPKIT_FUZZ_CHECK(same_bits(&report.relative_error, &serial.relative_error, 1),
                    "relative error differs between %d threads and 1", options.threads);
  MLPKIT_FUZZ_CHECK(report.numeric_gradient.size() == serial.numeric_gradient.size() &&
                        same_bits(report.numeric_gradient.data(), serial.numeric_gradient.data(),
                                  report.numeric_gradient.size()),
                    "numeric gradient differs between threads");
  MLPKIT_FUZZ_CHECK(report.tensors.size() == (layout.empty() ? 1 : layout.size()), "%zu tensors in the report",
                    report.tensors.size());
  if ((report.verdict == Verdict::wrong) != perturbed || (!perturbed && report.verdict != Verdict::great))
    std::fprintf(stderr, "%s\n", report.to_text().c_str());
  if (perturbed)
    MLPKIT_FUZZ_CHECK(report.verdict == Verdict::wrong,
                      "a perturbed gradient passed: relative error %.3g (mode %d, n %zu, checked %zu of %zu, "
                      "numeric[0] %.17g, analytic[0] %.17g, exact[0] %.17g, kinks %zu)",
                      report.relative_error, int(options.mode), q.n, report.checked, report.total,
                      report.numeric_gradient.empty() ? 0.0 : report.numeric_gradient[0], analytic[0], exact[0],
                      report.kinks.size());
  else
    MLPKIT_FUZZ_CHECK(report.verdict == Verdict::great, "the exact gradient is %s: relative error %.3g (mode %d, n %zu)",
                      std::string(verdict_name(report.verdict)).c_str(), report.relative_error, int(options.mode), q.n);
  (void)report.to_text();
  (void)report.to_json();
  return 0;
}
