// Bug fingerprints: per failing tensor, fit analytic ≈ α·numeric (+ β·W) and name the likely cause.
#include <cmath>
#include <sstream>

#include "gradcheck/gradcheck_internal.hpp"

namespace mlpkit::detail {
namespace {

/** A fit is accepted when its residual is below this fraction of ‖analytic‖. */
constexpr double kFitTolerance = 1e-2;
/** α matches a named factor within this relative distance. */
constexpr double kFactorTolerance = 2e-2;

bool near(double value, double target) { return std::abs(value - target) <= kFactorTolerance * std::abs(target); }

/** The checked, kink-free entries of one tensor, with W the tensor's own θ values. */
struct Samples {
  std::vector<double> num, ana, w;
  std::vector<std::size_t> row, col;
};

Samples collect(const TensorCheck& c, std::span<const double> theta, std::span<const double> analytic,
                std::span<const double> numeric, std::span<const unsigned char> kink) {
  Samples s;
  for (std::size_t q = 0; q < c.total; ++q) {
    const std::size_t i = c.offset + q;
    if (std::isnan(numeric[i]) || kink[i]) continue;
    s.num.push_back(numeric[i]);
    s.ana.push_back(analytic[i]);
    s.w.push_back(theta[i]);
    s.row.push_back(q / c.cols);
    s.col.push_back(q % c.cols);
  }
  return s;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}

/** ‖ana − α·num − β·w‖ / ‖ana‖. */
double fit_residual(const Samples& s, double alpha, double beta) {
  double r2 = 0, a2 = 0;
  for (std::size_t k = 0; k < s.num.size(); ++k) {
    const double r = s.ana[k] - alpha * s.num[k] - beta * s.w[k];
    r2 += r * r;
    a2 += s.ana[k] * s.ana[k];
  }
  return a2 == 0 ? 0.0 : std::sqrt(r2 / a2);
}

/**
 * Whether the analytic buffer holds the numeric gradient transposed: a cols × rows matrix stored
 * row-major in the same slice, so entry (r, c) of the numeric gradient sits at c·rows + r.
 */
bool is_transposed(const TensorCheck& c, const Samples& s, std::span<const double> analytic) {
  if (c.rows < 2 || c.cols < 2 || s.num.empty()) return false;
  double r2 = 0, n2 = 0, plain2 = 0;
  for (std::size_t k = 0; k < s.num.size(); ++k) {
    const double t = analytic[c.offset + s.col[k] * c.rows + s.row[k]];
    r2 += (t - s.num[k]) * (t - s.num[k]);
    plain2 += (s.ana[k] - s.num[k]) * (s.ana[k] - s.num[k]);
    n2 += s.num[k] * s.num[k];
  }
  return n2 > 0 && std::sqrt(r2 / n2) < kFitTolerance && r2 < plain2;
}

/** classify_alpha, then α ≈ keep_prob or 1/keep_prob read as dropout_rescale when the model drops out. */
Fingerprint classify_with_dropout(double alpha, const GradcheckOptions& options) {
  const Fingerprint f = classify_alpha(alpha, options.batch_size);
  const double keep = options.keep_prob;
  if (f != Fingerprint::none && keep > 0 && keep < 1 && (near(alpha, keep) || near(alpha, 1 / keep)))
    return Fingerprint::dropout_rescale;
  return f;
}

}  // namespace

Fingerprint classify_alpha(double alpha, std::size_t batch_size) {
  if (near(alpha, 1)) return Fingerprint::none;
  if (near(alpha, -1)) return Fingerprint::sign_flip;
  if (near(alpha, 2)) return Fingerprint::factor_two;
  if (near(alpha, 0.5)) return Fingerprint::factor_half;
  if (batch_size > 2) {
    const double m = static_cast<double>(batch_size);
    if (near(alpha, m)) return Fingerprint::factor_m;
    if (near(alpha, 1 / m)) return Fingerprint::factor_inverse_m;
  }
  return Fingerprint::scaled;
}

std::string describe(Fingerprint fingerprint, double alpha, double beta, const std::string& tensor) {
  std::ostringstream out;
  out.precision(4);
  switch (fingerprint) {
    case Fingerprint::none: return "";
    case Fingerprint::sign_flip: out << "d" << tensor << " has the wrong sign (analytic ≈ −numeric)"; break;
    case Fingerprint::factor_two: out << "d" << tensor << " is twice too large (a derivative of ½x² taken as 2x?)"; break;
    case Fingerprint::factor_half: out << "d" << tensor << " is half what it should be (a factor ½ or a missing 2)"; break;
    case Fingerprint::factor_m: out << "d" << tensor << " is m times too large: the 1/m average was forgotten"; break;
    case Fingerprint::factor_inverse_m: out << "d" << tensor << " is m times too small: averaged over m twice"; break;
    case Fingerprint::scaled: out << "d" << tensor << " is off by a constant factor α = " << alpha; break;
    case Fingerprint::missing_l2:
      out << "d" << tensor << " lacks the L2 derivative: analytic ≈ numeric − " << -beta << "·" << tensor
          << " (add (λ/m)·" << tensor << ")";
      break;
    case Fingerprint::l2_mismatch:
      out << "d" << tensor << " has a wrong L2 term: analytic ≈ numeric + " << beta << "·" << tensor;
      break;
    case Fingerprint::transposed: out << "d" << tensor << " is transposed (stored as its transpose)"; break;
    case Fingerprint::all_zero: out << "d" << tensor << " is all zero (never written, or an early return?)"; break;
    case Fingerprint::upstream:
      out << "wrong here and in every earlier layer but right after: look at the backward step through the "
             "activation of this layer (a wrong derivative?)";
      break;
    case Fingerprint::unexplained: out << "no simple fit (α = " << alpha << "): look at the worst entry"; break;
    case Fingerprint::kink_outside_bracket:
      out << "d" << tensor << " at a ReLU kink lies outside both one-sided derivatives";
      break;
    case Fingerprint::dropout_rescale:
      out << "d" << tensor << " is " << alpha << " times the true one: "
          << (alpha < 1 ? "the 1/keep_prob rescale of inverted dropout is missing in the backward pass"
                        : "the 1/keep_prob rescale of inverted dropout is applied twice");
      break;
    case Fingerprint::bias_batch_sum:
      out << "d" << tensor << " is one example's gradient: the sum of dZ over the batch's columns is missing";
      break;
    case Fingerprint::derivative_at_output:
      out << "d" << tensor << " uses the activation derivative at the output, g'(A), instead of g'(Z)";
      break;
  }
  if (fingerprint != Fingerprint::missing_l2 && fingerprint != Fingerprint::l2_mismatch && beta != 0)
    out << "; also a W-proportional residual β = " << beta;
  return out.str();
}

void fingerprint_tensors(GradcheckReport& report, std::span<const double> theta, std::span<const double> analytic,
                         std::span<const double> numeric, std::span<const unsigned char> kink,
                         const GradcheckOptions& options) {
  for (TensorCheck& c : report.tensors) {
    if (c.verdict == Verdict::great) continue;
    const Samples s = collect(c, theta, analytic, numeric, kink);
    const double nn = dot(s.num, s.num), aa = dot(s.ana, s.ana), na = dot(s.num, s.ana);
    if (s.num.empty()) continue;
    if (aa == 0 && nn > 0) {
      c.fingerprint = Fingerprint::all_zero;
      c.fit_alpha = 0;
    } else if (nn > 0 && fit_residual(s, na / nn, 0) < kFitTolerance) {
      c.fit_alpha = na / nn;
      c.fingerprint = classify_with_dropout(c.fit_alpha, options);
    } else if (is_transposed(c, s, analytic)) {
      c.fingerprint = Fingerprint::transposed;
    } else {
      // Two-parameter least squares analytic ≈ α·numeric + β·W through the 2 × 2 normal equations.
      const double ww = dot(s.w, s.w), nw = dot(s.num, s.w), aw = dot(s.ana, s.w);
      const double det = nn * ww - nw * nw;
      c.fingerprint = Fingerprint::unexplained;
      if (nn > 0) c.fit_alpha = na / nn;
      if (det > 1e-12 * nn * ww) {
        const double alpha = (na * ww - aw * nw) / det;
        const double beta = (aw * nn - na * nw) / det;
        if (fit_residual(s, alpha, beta) < kFitTolerance) {
          c.fit_alpha = alpha;
          c.fit_beta = beta;
          const Fingerprint f = classify_with_dropout(alpha, options);
          if (f != Fingerprint::none) {
            c.fingerprint = f;  // a stray factor on the data term, the W term apart
          } else if (options.l2_over_m > 0) {
            c.fingerprint = near(beta, -options.l2_over_m) ? Fingerprint::missing_l2 : Fingerprint::l2_mismatch;
          } else {
            c.fingerprint = beta < 0 ? Fingerprint::missing_l2 : Fingerprint::l2_mismatch;
          }
        }
      }
    }
    c.diagnosis = describe(c.fingerprint, c.fit_alpha, c.fit_beta, c.name);
  }

  // A wrong backward step through layer l's activation spoils dW, db of layers 1…l and leaves
  // later layers right: failing layers form a prefix 1…l, none of them fits a simple factor.
  std::size_t max_layer = 0, max_bad = 0;
  bool numbered = !report.tensors.empty();
  for (const TensorCheck& c : report.tensors) {
    numbered = numbered && c.layer > 0;
    max_layer = std::max(max_layer, c.layer);
    if (c.verdict != Verdict::great) max_bad = std::max(max_bad, c.layer);
  }
  if (!numbered || max_bad == 0 || max_bad >= max_layer) return;
  for (const TensorCheck& c : report.tensors)
    if (c.layer <= max_bad && (c.verdict == Verdict::great || c.fingerprint != Fingerprint::unexplained)) return;
  for (TensorCheck& c : report.tensors) {
    if (c.layer > max_bad) continue;
    c.fingerprint = Fingerprint::upstream;
    std::ostringstream out;
    out << "wrong in layers 1…" << max_bad << " but right after: look at the backward step through the activation "
        << "of layer " << max_bad << " (a wrong activation derivative?)";
    c.diagnosis = out.str();
  }
}

}  // namespace mlpkit::detail
