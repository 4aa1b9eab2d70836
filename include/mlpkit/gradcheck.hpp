#pragma once
/** @file
 * Gradient checking: numeric central differences against an analytic gradient, in parallel, with a
 * per-tensor report that names the likely bug.
 *
 * dθ_approx[i] = (J(θ + ε·eᵢ) − J(θ − ε·eᵢ)) / (h⁺ + h⁻), where h⁺ = (θᵢ+ε)−θᵢ and h⁻ = θᵢ−(θᵢ−ε) are
 * the steps actually taken in floating point. The global figure is
 * ‖dθ_approx − dθ‖₂ / (‖dθ_approx‖₂ + ‖dθ‖₂): below 1e-7 great, up to 1e-3 suspicious, beyond wrong.
 * Everything numeric runs in double; results are bitwise identical for any thread count.
 */
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "mlpkit/enums.hpp"
#include "mlpkit/export.hpp"
#include "mlpkit/gradcheck_report.hpp"  // the enums and report types
#include "mlpkit/matrix.hpp"
#include "mlpkit/mlp.hpp"  // Mlp, TensorInfo

namespace mlpkit MLPKIT_API {

/** Options of gradcheck. */
struct GradcheckOptions {
  /** Step ε (> 0, finite). 1e-7 balances truncation O(ε²) and rounding O(u/ε) in double. */
  double eps = 1e-7;
  /** Relative errors below this are great. */
  double great_below = 1e-7;
  /** Relative errors from this on are wrong (between the two: suspicious). */
  double wrong_from = 1e-3;
  /** Which entries are checked: all, a sample per tensor, or random directions. */
  GradcheckMode mode = GradcheckMode::full;
  /**
   * sampled: entries per tensor. With at least max(rows, cols), first one in every row and every
   * column (a row swap or a transpose is then always hit); of the rest a third largest |dθ|, a third
   * smallest |dθ|, the others stratified by row and column.
   */
  std::size_t samples_per_tensor = 24;
  /**
   * sampled: 0, or in (0, 1): then each tensor's sample is instead the smallest that hits an error on
   * detection_fraction of its entries (placed at random) with at least this probability.
   */
  double detection_probability = 0;
  /** sampled with detection_probability: the fraction of a tensor's entries the error is assumed to affect, in (0, 1]. */
  double detection_fraction = 0.01;
  /** directional: number of random unit directions; check_hvp: number of random directions v (entries in [−1, 1)). */
  std::size_t directions = 8;
  /** Seed of sampling and directions. */
  std::uint64_t seed = 0x9e3779b97f4a7c15ULL;
  /**
   * Threads for this call only (other application threads and set_num_threads are unaffected);
   * 0: mlpkit::num_threads(). The results do not depend on it.
   */
  int threads = 0;
  /** Mlp checks only: which evaluator computes J. */
  GradcheckEvaluator evaluator = GradcheckEvaluator::incremental;
  /**
   * Called on the calling thread after each batch of parameters with (done, total) parameter
   * counts; returning false cancels: the report then covers what was checked and says `cancelled`.
   */
  std::function<bool(std::size_t done, std::size_t total)> progress;
  /** Examples in the batch (for the factor-m fingerprints); 0: unknown. Set by the Mlp overloads. */
  std::size_t batch_size = 0;
  /**
   * Differences at the level of rounding noise count as zero: a tensor's relative error uses the
   * denominator max(‖num‖ + ‖ana‖, noise_floor · ‖rounding bound‖ / great_below), so tiny but correct
   * gradients (whose numeric side is mostly rounding) are not called wrong. 0: the plain formula.
   */
  double noise_floor = 10;
  /** λ/m of the L2 term, for the missing-L2 fingerprint; 0: unknown. Set by the Mlp overloads. */
  double l2_over_m = 0;
  /** keep_prob of dropout, for the dropout-rescale fingerprint; 0: unknown (1: no dropout). Set by the Mlp overloads. */
  double keep_prob = 0;
  /**
   * Mlp checks only: false (default) evaluates J and the analytic gradient with precise activations
   * whatever MlpConfig::accuracy says, so the check measures the model, not the fast forms' rounding;
   * true evaluates both in the model's own tier.
   */
  bool model_accuracy = false;
  /**
   * How numeric derivatives are taken. richardson and ridders give each entry an error bound and
   * each entry and tensor an Agreement besides the relative error (which stays the headline).
   */
  DifferenceScheme scheme = DifferenceScheme::central;
  /** richardson, ridders: the largest step h₀ (> 0, finite); eps is then unused. */
  double initial_step = 0.1;
  /**
   * richardson, ridders: the unit roundoff of the arithmetic that computed the analytic gradient
   * (> 0; double's by default, the float Mlp overload sets float's): the agreement allows it a few
   * dozen ulps of its magnitude besides the numeric bound.
   */
  double analytic_roundoff = 0x1p-53;
  /** check_vjp: random cotangents u (entries uniform in [−1, 1), drawn from `seed`). */
  std::size_t cotangents = 3;
  /**
   * check_vjp: also every unit cotangent eⱼ when f has at most this many outputs (each output alone);
   * check_hvp: also every unit direction eⱼ when θ has at most this many entries (the whole Hessian).
   */
  std::size_t unit_cotangents_up_to = 16;
  /**
   * directional: steps h of the Taylor-remainder test (see TaylorTest), from taylor_largest_step down
   * by factors of √10; 0: no test, else 4 … 64. One evaluation of J per step, for the whole direction
   * and again for each tensor whose difference check is not great.
   */
  std::size_t taylor_steps = 16;
  /** directional: the largest step of the Taylor-remainder test (> 0, finite). */
  double taylor_largest_step = 0.1;
};
/**
 * Checks `analytic_gradient` against central differences of any J: Rⁿ → R.
 * f is called concurrently from several threads, each with its own copy of θ, and must return
 * the same value for the same argument (checked up front: J(θ) is evaluated twice).
 * layout: named slices of θ (non-overlapping, in bounds); the report is per slice and fingerprints
 * bugs; empty: θ is one tensor "theta" of n × 1.
 * Throws mlpkit::Error when θ and analytic_gradient differ in size, ε ≤ 0 or is not finite, the
 * thresholds are not 0 < great_below ≤ wrong_from, a slice is out of bounds, J(θ) differs between two
 * identical evaluations, or J is not finite at some evaluation (the message names the parameter
 * index). An exception thrown by f propagates.
 */
GradcheckReport gradcheck(const std::function<double(std::span<const double>)>& f, std::span<const double> theta,
                          std::span<const double> analytic_gradient, std::span<const TensorInfo> layout = {},
                          const GradcheckOptions& options = {});

/**
 * Checks an Mlp's own backpropagation: dθ from forward_backward on a copy of `net` against the
 * numeric gradient of Mlp::loss (L2 term included). x: n[0] × m, y: n[L] × m (examples are columns).
 * With dropout (keep_prob < 1) every evaluation uses the model's deterministic mask of its current step.
 * Throws mlpkit::Error for X/Y shapes that do not match the model, and as the generic overload.
 */
GradcheckReport gradcheck(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                          const GradcheckOptions& options = {});

/**
 * Checks a user-computed gradient of an Mlp's loss (same layout as Mlp::parameters()) with the
 * Mlp machinery: incremental evaluation, kink detection, per-tensor fingerprints with λ/m and m known.
 */
GradcheckReport gradcheck(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                          std::span<const double> analytic_gradient, const GradcheckOptions& options = {});

/**
 * Checks a float model: its float dθ against the numeric gradient of a double copy of the model
 * (same parameters, data converted). Thresholds default to float's: great below 1e-4, wrong from
 * 1e-2 (used unless `options` sets others than the double defaults), and analytic_roundoff to float's
 * 2⁻²⁴ (unless `options` sets another than double's).
 */
GradcheckReport gradcheck(const Mlp<float>& net, MatrixView<const float> x, MatrixView<const float> y,
                          const GradcheckOptions& options = {});

/** A vector-valued f: Rⁿ → Rᵐ (check_vjp); it returns the m outputs at x, the same m for every x. */
using VectorFunction = std::function<std::vector<double>(std::span<const double> x)>;
/** A vector–Jacobian product (check_vjp): returns uᵀ·∂f/∂x at x (n entries) for a cotangent u (m entries). */
using VjpFunction = std::function<std::vector<double>(std::span<const double> x, std::span<const double> u)>;

/**
 * Checks a layer's backward pass: a vector–Jacobian product vjp(x, u) = uᵀ·∂f/∂x against central
 * differences of the scalar uᵀf(x), for options.cotangents random u and, when f has at most
 * options.unit_cotangents_up_to outputs, every unit uⱼ = eⱼ. Each perturbation x ± ε·eᵢ evaluates f
 * once for all cotangents: 2n + 2 evaluations of f for any number of them (full mode).
 * x: the n inputs of the layer flattened (e.g. X, γ, β); layout: named slices of x as for gradcheck
 * (each slice's report covers all cotangents; empty: x is one tensor "x" of n × 1).
 * f is called concurrently from several threads; vjp is called K times, on the calling thread.
 * Modes full and sampled; the report is gradcheck's, with cotangents and cotangent_values set and each
 * entry naming its cotangent.
 * Throws mlpkit::Error for an empty f or vjp, directional mode, no cotangent at all, f returning no
 * outputs, another number of outputs than at x, or a non-finite one, vjp returning another length than
 * n or a non-finite value, and as gradcheck for the options and the layout. An exception thrown by f or
 * vjp propagates unchanged.
 */
GradcheckReport check_vjp(const VectorFunction& f, std::span<const double> x, const VjpFunction& vjp,
                          std::span<const TensorInfo> layout = {}, const GradcheckOptions& options = {});

/** A gradient ∇J: Rⁿ → Rⁿ (check_hvp); it returns n entries at θ. */
using GradientFunction = std::function<std::vector<double>(std::span<const double> theta)>;
/** A Hessian–vector product (check_hvp): returns ∇²J(θ)·v (n entries) for a direction v (n entries). */
using HvpFunction = std::function<std::vector<double>(std::span<const double> theta, std::span<const double> v)>;

/**
 * Checks a Hessian–vector product hvp(θ, v) = ∇²J(θ)·v against differences of the gradient along v:
 * (∇J(θ + h·v) − ∇J(θ − h·v)) / 2h at h = options.eps (central), or extrapolated over the steps of
 * richardson / ridders from options.initial_step, each entry with its error bound and Agreement.
 * Directions: options.directions random v (entries uniform in [−1, 1) from options.seed) and, when θ
 * has at most options.unit_cotangents_up_to entries, every unit eⱼ (then every column of the Hessian
 * is checked). Each direction costs 2·scheme_steps calls of grad_f (run in parallel: grad_f is called
 * concurrently from several threads) and one of hvp (on the calling thread); report.evaluations counts
 * the calls of grad_f, the two at θ (a determinism check) included.
 * layout: named slices of θ as for gradcheck; the report is check_vjp's over (entry, direction)
 * pairs, with cotangent_values holding the directions and numeric_gradient the numeric H·v (n × K).
 * The fits take v for W, so a Hessian–vector product without its (λ/m)·v term reads missing_l2.
 * Rounding of θ ± h·v perturbs the numeric side by about u·|θ|/h relative (1e-9 at h = 1e-7).
 * Throws mlpkit::Error for an empty grad_f or hvp, an empty θ, another mode than full, no direction at
 * all, grad_f returning another length than n or a non-finite entry (naming the point), two different
 * gradients at θ, hvp returning another length than n or a non-finite value (naming the direction),
 * and as gradcheck for the options and the layout. An exception thrown by grad_f or hvp propagates
 * unchanged.
 */
GradcheckReport check_hvp(const GradientFunction& grad_f, std::span<const double> theta, const HvpFunction& hvp,
                          std::span<const TensorInfo> layout = {}, const GradcheckOptions& options = {});

/**
 * Checks the Mlp's own second order: hessian_vector_product (mlpkit/hessian.hpp) against differences
 * of forward_backward's gradient, per tensor (W1, b1, …), with m and λ/m known to the fingerprints.
 * Evaluates in precise activations unless options.model_accuracy; dropout masks of the model's step.
 * Throws mlpkit::Error for X/Y shapes that do not match the model, and as the generic overload.
 */
GradcheckReport check_hvp(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                          const GradcheckOptions& options = {});

}  // namespace mlpkit
