#pragma once
/** @file
 * What gradcheck reports: the verdicts, schemes, agreements and fingerprints it speaks in, the
 * report of a check with its per-tensor checks and worst entries, and the Taylor-remainder test.
 * Included by gradcheck.hpp.
 */
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mlpkit/enums.hpp"
#include "mlpkit/export.hpp"
#include "mlpkit/mlp.hpp"  // Accuracy, TensorInfo

namespace mlpkit MLPKIT_API {

/** How a relative error reads. Default bands: < 1e-7 great, 1e-7 … 1e-3 suspicious, ≥ 1e-3 wrong. */
enum class Verdict { great, suspicious, wrong };

/** Which entries are checked. */
enum class GradcheckMode {
  full,        // every parameter: 2 evaluations each
  sampled,     // per tensor: the largest |dθ|, the smallest |dθ| and random ones; the report states the coverage
  directional  // random unit directions v: (J(θ+εv) − J(θ−εv)) / 2ε against dθ·v, failures localized by bisection
};

/** Which evaluator an Mlp check uses (the generic API always calls f). */
enum class GradcheckEvaluator {
  incremental,  // cached forward pass, only the affected rows and layers recomputed (exact, fast)
  naive         // a full Mlp::loss per evaluation on a thread-local copy (the course's algorithm)
};

/** How each numeric derivative is taken. */
enum class DifferenceScheme {
  central,     // one central difference at ε: 2 evaluations per entry, no error estimate
  richardson,  // central differences at 4 steps halving from initial_step, extrapolated to h → 0 (8 evaluations)
  ridders      // 6 steps shrinking by 1.4 from initial_step, Ridders' tableau keeps its most certain entry (12 evaluations)
};

/** Whether an entry's (or a tensor's) analytic derivative lies within the numeric one's error bound. */
enum class Agreement {
  agree,      // |num − ana| within a few bounds of each other
  disagree,   // |num − ana| beyond the bound by a wide margin: the analytic derivative is wrong
  unresolved  // in between, or the bound itself too large to decide
};

/** The likely cause of a failing tensor, from the fit analytic ≈ α·numeric + β·W. */
enum class Fingerprint {
  none,              // passes, or nothing to fit (no failing entries)
  sign_flip,         // α ≈ −1
  factor_two,        // α ≈ 2: a derivative doubled (e.g. of ½‖·‖²)
  factor_half,       // α ≈ ½
  factor_m,          // α ≈ m: the 1/m average forgotten
  factor_inverse_m,  // α ≈ 1/m: averaged twice
  scaled,            // α is another constant: fit_alpha says which
  missing_l2,        // analytic ≈ numeric − (λ/m)·W: the L2 derivative left out (fit_beta ≈ −λ/m)
  l2_mismatch,       // analytic ≈ numeric + β·W with another β: the L2 derivative scaled wrongly
  transposed,        // analytic holds numericᵀ
  all_zero,          // analytic is exactly zero, numeric is not
  upstream,          // wrong in this and every earlier layer, right after it: look at the backward step
                     // through this layer's activation (e.g. a wrong activation derivative)
  unexplained,       // no simple fit: look at the entries
  kink_outside_bracket,  // at a ReLU kink the analytic value lies outside both one-sided derivatives
  dropout_rescale,   // α ≈ keep_prob (the 1/keep_prob of inverted dropout missing) or 1/keep_prob (applied twice)
  bias_batch_sum,    // Mlp checks: a bias gradient that is one example's dZ column (times 1 or m), the sum
                     // over the batch missing (a mean where the sum belongs reads factor_inverse_m, the
                     // sum where the mean belongs factor_m, on db alone)
  derivative_at_output  // the activation derivative taken at the output A, g'(A), instead of g'(Z)
};

template <> struct EnumTable<Verdict> : EnumNames<"Verdict", "great", "suspicious", "wrong"> {};
template <> struct EnumTable<GradcheckMode> : EnumNames<"GradcheckMode", "full", "sampled", "directional"> {};
template <> struct EnumTable<GradcheckEvaluator> : EnumNames<"GradcheckEvaluator", "incremental", "naive"> {};
template <> struct EnumTable<DifferenceScheme> : EnumNames<"DifferenceScheme", "central", "richardson", "ridders"> {};
template <> struct EnumTable<Agreement> : EnumNames<"Agreement", "agree", "disagree", "unresolved"> {};
template <> struct EnumTable<Fingerprint> : EnumNames<"Fingerprint", "none", "sign_flip", "factor_two", "factor_half",
                                          "factor_m", "factor_inverse_m", "scaled", "missing_l2", "l2_mismatch",
                                          "transposed", "all_zero", "upstream", "unexplained",
                                          "kink_outside_bracket", "dropout_rescale", "bias_batch_sum",
                                          "derivative_at_output"> {};

/**
 * The Taylor-remainder test (directional mode): along a unit direction v, the remainder
 * r(h) = |J(θ+hv) − J(θ) − dθ·(θ+hv − θ)| (the displacement as rounded) at geometric steps h. A right
 * gradient leaves r(h) = O(h²), a wrong one O(h): the slope of log r against log h, fitted over the
 * smallest steps whose r stands clear of J's rounding, tells them apart with no ε to choose.
 */
struct TaylorTest {
  std::vector<double> steps;       ///< h, largest first (empty: no test)
  std::vector<double> remainders;  ///< r(h), one per step
  std::vector<double> noise;       ///< a bound of the rounding in r(h): points below 1000× it are not fitted
  std::size_t fit_first = 0;       ///< the fitted steps are [fit_first, fit_last)
  std::size_t fit_last = 0;        ///< see fit_first
  double slope = 0;                ///< log₁₀ r ≈ slope·log₁₀ h + intercept over the fitted steps
  double intercept = 0;            ///< see slope
  /** agree: slope ≥ 1.75 (the gradient confirmed); disagree: slope ≤ 1.25; else, or under 3 points fitted, unresolved. */
  Agreement agreement = Agreement::unresolved;
};

/** One entry of θ and its two derivatives. */
struct GradcheckEntry {
  std::size_t index = 0;      ///< in θ (check_vjp: in x)
  std::size_t layer = 0;      ///< the layer of its tensor (TensorCheck::layer)
  std::size_t row = 0;        ///< its row in the tensor
  std::size_t col = 0;        ///< its column in the tensor
  double numeric = 0;         ///< the finite-difference derivative
  double analytic = 0;        ///< the derivative given
  std::size_t cotangent = 0;  ///< check_vjp: which cotangent u (a row of GradcheckReport::cotangent_values)
  /**
   * Kinks only (GradcheckReport::kinks): the one-sided difference (J(θ) − J(θ−εeᵢ))/ε; `right` is
   * (J(θ+εeᵢ) − J(θ))/ε, and `in_bracket` whether analytic lies in the interval they span (up to
   * rounding and O(ε) slack): "kink, in bracket", agreeing; outside, the tensor fails (kink_outside_bracket).
   */
  double left = 0;
  double right = 0;        ///< see left
  bool in_bracket = false;  ///< see left
};

/** The check of one named tensor (W1, b1, …). */
struct TensorCheck {
  std::string name;         ///< as in the layout (TensorInfo::name)
  std::size_t layer = 0;    ///< the number at the end of the name (W2 → 2), else 0
  std::size_t offset = 0;   ///< index in θ of element (0, 0)
  std::size_t rows = 0;     ///< number of rows
  std::size_t cols = 0;     ///< number of columns
  /** ‖num − ana‖ / (‖num‖ + ‖ana‖) over the checked, kink-free entries (0 when both are 0). */
  double relative_error = 0;
  Verdict verdict = Verdict::great;  ///< relative_error against the options' thresholds
  double max_abs_diff = 0;           ///< the largest |num − ana| over the checked, kink-free entries
  GradcheckEntry worst;              ///< the entry of largest |num − ana|
  std::size_t checked = 0;           ///< entries checked
  std::size_t total = 0;             ///< entries in the tensor
  std::size_t kinks = 0;             ///< checked entries whose difference straddles a kink
  /** Kinked entries whose analytic value lies outside their bracket (each one makes the tensor wrong). */
  std::size_t kinks_outside = 0;
  Fingerprint fingerprint = Fingerprint::none;  ///< the pattern of the error, when it has a known one
  double fit_alpha = 1;   ///< α of analytic ≈ α·numeric + β·W over the checked entries
  double fit_beta = 0;    ///< β of the same fit
  std::string diagnosis;  ///< one sentence naming the likely bug
  /** directional mode: rows [suspect_row_begin, suspect_row_end) localized by bisection (empty if none). */
  std::size_t suspect_row_begin = 0;
  std::size_t suspect_row_end = 0;  ///< see suspect_row_begin
  /**
   * richardson, ridders: disagree when any checked, kink-free entry disagrees or when the entries'
   * discrepancies line up (coherence beyond 6), else unresolved when any is unresolved, else agree;
   * with the count of each. central: agree, counts 0.
   */
  Agreement agreement = Agreement::agree;
  std::size_t agreeing = 0;     ///< entries that agree (richardson, ridders)
  std::size_t disagreeing = 0;  ///< entries that disagree
  std::size_t unresolved = 0;   ///< entries neither agreeing nor disagreeing
  /**
   * richardson, ridders: Σ wᵢ·clip(rᵢ) / ‖w‖ over the kink-free entries, rᵢ = (analytic − numeric)/slackᵢ
   * clipped to ±4 and wᵢ = numericᵢ·slackᵢ: how far the discrepancies line up with the numeric
   * gradient, in units of what independent errors within their bounds give (a scale error of a
   * fraction of a bound per entry adds up over a tensor; a single stray entry adds at most 4).
   */
  double coherence = 0;
  /**
   * The probability that the checked entries include at least one of an error's, for an error on 1 %
   * of this tensor's entries placed at random: 1 − C(total − checked, e)/C(total, e), e = ⌈p·total⌉
   * (1 in full mode; sampled mode states its guarantee so).
   */
  double hit_probability_1pct = 1;
  double hit_probability_10pct = 1;  ///< the same for an error on 10 % of the entries
  /** directional mode: the Taylor-remainder test along the first direction restricted to this tensor, run when its verdict is not great. */
  TaylorTest taylor;
};

/** What gradcheck found. */
struct GradcheckReport {
  /** ‖dθ_approx − dθ‖₂ / (‖dθ_approx‖₂ + ‖dθ‖₂) over the checked, kink-free entries (directional: over directions). */
  double relative_error = 0;
  Verdict verdict = Verdict::great;          ///< the worst verdict of the tensors
  std::vector<TensorCheck> tensors;          ///< one per tensor of the layout
  GradcheckMode mode = GradcheckMode::full;  ///< the mode of the options
  double eps = 0;                            ///< the step ε used
  std::size_t checked = 0;    ///< parameters checked (directional: directions)
  std::size_t total = 0;      ///< parameters in all
  double coverage = 0;        ///< checked / total parameters (directional: 1)
  std::size_t evaluations = 0;  ///< evaluations of J (the two determinism checks included)
  bool cancelled = false;     ///< options.progress stopped the check
  /** Mlp checks: the accuracy tier the model trains and predicts in. */
  Accuracy model_accuracy = Accuracy::precise;
  /** Mlp checks: the accuracy tier this check evaluated the model in. */
  Accuracy evaluated_accuracy = Accuracy::precise;
  /**
   * Entries whose difference straddles a kink of ReLU / leaky ReLU (incremental Mlp evaluator):
   * reported apart with their one-sided differences; only one outside its bracket is a failure.
   * Their 1 + 2 evaluations per kinked entry count in `evaluations`.
   */
  std::vector<GradcheckEntry> kinks;
  /** dθ_approx, one per parameter; NaN where not checked (sampled mode, cancel); empty in directional mode. */
  std::vector<double> numeric_gradient;
  /**
   * directional mode: per direction, the numeric and the analytic directional derivative; the analytic
   * one is dθ·(x⁺ − x⁻)/2ε over the points x± = θ ± ε·v as rounded (the displacement actually taken).
   */
  std::vector<double> directional_numeric;
  std::vector<double> directional_analytic;  ///< see directional_numeric
  /** directional mode: the Taylor-remainder test along the first direction (options.taylor_steps > 0). */
  TaylorTest taylor;
  /** The scheme of the numeric derivatives. */
  DifferenceScheme scheme = DifferenceScheme::central;
  /** richardson, ridders: disagree when any tensor disagrees, else unresolved when any is, else agree (central: agree). */
  Agreement agreement = Agreement::agree;
  /**
   * richardson, ridders: per parameter, the error bound of numeric_gradient (NaN where not checked);
   * central: empty.
   */
  std::vector<double> numeric_error_bound;
  /**
   * check_vjp (check_hvp: read "directions v" for cotangents u, "θ" for x, "entries of θ" for outputs,
   * and numeric_gradient holds the numeric H·v): the number K of cotangents u and their values (K × outputs, row-major, the random
   * ones first, then the unit ones). checked, total and each tensor's checked and total then count
   * (input entry, cotangent) pairs; numeric_gradient holds K values per input entry (n × K, row-major).
   */
  std::size_t cotangents = 0;
  std::size_t outputs = 0;               ///< check_vjp only: the number of outputs of f
  std::vector<double> cotangent_values;  ///< check_vjp only: K × outputs, row-major

  /** A readable table: the global verdict, then one line per tensor, diagnoses, kinks. */
  std::string to_text() const;
  /** Everything above except the per-parameter arrays, as JSON. */
  std::string to_json() const;
};

/** "great", "suspicious", "wrong". */
std::string_view verdict_name(Verdict verdict);
/** "none", "sign_flip", "factor_two", … (the enumerator's name). */
std::string_view fingerprint_name(Fingerprint fingerprint);
/** "full", "sampled", "directional". */
std::string_view gradcheck_mode_name(GradcheckMode mode);
/** "central", "richardson", "ridders". */
std::string_view difference_scheme_name(DifferenceScheme scheme);
/** "agree", "disagree", "unresolved". */
std::string_view agreement_name(Agreement agreement);

}  // namespace mlpkit
