#pragma once
// Evaluators of an Mlp's J for the perturbation loop: the naive one (a full Mlp::loss_at per
// evaluation, the course's algorithm) and the exact incremental one (cached forward pass, only the
// affected row and the layers after it recomputed, perturbations of one layer batched as columns).
#include <memory>
#include <vector>

#include "gradcheck/directional_internal.hpp"
#include "gradcheck/gradcheck_internal.hpp"
#include "mlpkit/mlp.hpp"

namespace mlpkit::detail {

/** At least n elements: a kept scratch buffer only grows, so a narrower item does not zero-fill it again. */
template <class V>
void grow(V& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}

/**
 * What both Mlp evaluators share: the model, the batch, ε, the work of one central difference, and
 * full evaluations of J (value, at) by Mlp::loss_at on a per-thread copy of θ and workspace.
 */
class MlpEvaluatorBase : public LossEvaluator {
 public:
  ~MlpEvaluatorBase() override;
  std::size_t size() const override { return net_.parameter_count(); }
  double eps() const override { return eps_; }
  double work_per_parameter() const override { return work_; }
  double value() const override;
  double at(std::span<const double> point) const override;

 protected:
  MlpEvaluatorBase(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y, double eps);
  /** The calling thread's copy of θ (equal to θ between evaluations) and workspace. */
  struct Slot;
  Slot& slot() const;
  const Mlp<double>& net_;
  MatrixView<const double> x_, y_;
  double eps_, work_ = 0;

 private:
  mutable std::vector<std::unique_ptr<Slot>> slots_;
};

/** J(θ ± hᵢeᵢ) by a full forward pass on a per-thread copy of θ. No kink detection. */
class NaiveMlpEvaluator final : public MlpEvaluatorBase {
 public:
  NaiveMlpEvaluator(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y, double eps);
  void differences_at(double step, std::span<const std::size_t> indices, std::span<double> numeric,
                      std::span<double> rounding, std::span<unsigned char> kink) const override;
  std::size_t batch() const override { return 4; }
};

/**
 * An Mlp's unperturbed forward pass, kept for evaluators that recompute only what a perturbation
 * changes: Z[l] and A[l] (A[0] = X, A[L] unused: Z[L] holds the logits) and the dropout masks of
 * the fixed step, each n[l] × m row-major.
 */
struct MlpForwardCache {
  /** Runs the pass through the model's own layer function. net and x must outlive the cache. */
  MlpForwardCache(const Mlp<double>& net, MatrixView<const double> x);
  /** out = f(W[k]·a_prev + b[k]) over `width` columns (ld = width). */
  void dense_layer(std::size_t k, const double* a_prev, double* out, std::size_t width, Activation f) const;
  /** Multiplies row r of values (n[layer] × width) by the layer's mask of example source(t) in column t. */
  template <class Source>
  void apply_mask(std::size_t layer, double* values, std::size_t width, Source source) const {
    if (mask[layer].empty()) return;
    for (std::size_t r = 0; r < dims[layer]; ++r) {
      const double* row_mask = mask[layer].data() + r * m;
      double* row = values + r * width;
      for (std::size_t t = 0; t < width; ++t) row[t] *= row_mask[source(t)];
    }
  }

  const Mlp<double>& net;
  std::vector<std::size_t> dims;
  std::size_t layers = 0, m = 0;
  std::vector<std::vector<double>> z, a, mask;  // index l = 0 … L
};

/**
 * The exact incremental evaluator. Perturbing W[l][j][k] (or b[l][j]) by s changes only row j of
 * Z[l], by s·A[l−1][k][:] (or s); Z[l+1] then changes by the rank-1 term W[l+1][:, j]·ΔA[l][j][:];
 * only layers l+2 … L are recomputed, all perturbations of one work item side by side as extra
 * columns, so they run as one wide GEMM; only the examples whose activation changes are
 * propagated (see differences). Kinks: a ReLU / leaky-ReLU pre-activation whose sign differs
 * between the + and the − evaluation marks the entry.
 */
class IncrementalMlpEvaluator final : public MlpEvaluatorBase {
 public:
  IncrementalMlpEvaluator(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y, double eps);
  void differences_at(double step, std::span<const std::size_t> indices, std::span<double> numeric,
                      std::span<double> rounding, std::span<unsigned char> kink) const override;
  std::size_t batch() const override { return batch_; }
  /** In GEMM flops: per entry, a fixed part plus its changed examples times the work of the layers after its own. */
  double cost(std::span<const std::size_t> indices) const override;
  /** Directional mode: the columns of one pass serve many steps of a probe (mlp_line.cpp). */
  std::unique_ptr<LineEvaluator> line_evaluator(std::span<const double> analytic,
                                                std::span<const Direction> directions) const override;
  /** Floating-point operations performed so far by differences_at() (GEMMs and rank-1 updates). */
  double performed_flops() const;

 private:
  struct Scratch;
  Scratch& scratch() const;
  /** Where θ[i] lives: layer (1-based), row, column (bias: column = npos). */
  struct Place {
    std::size_t layer, row, col;
    bool bias;
  };
  Place place(std::size_t i) const;
  // The phases of differences_at (mlp_incremental.cpp), on the calling thread's scratch:
  /** Row j of Z[l] (and A[l]) of both copies of every entry; marks entries whose row changes sign. */
  void perturb_rows(double step, std::span<const std::size_t> indices, std::size_t l, Scratch& s) const;
  /** The examples whose row changed, per entry, and the column layout of the copies; returns the width. */
  std::size_t select_columns(std::size_t count, std::size_t l, Scratch& s) const;
  /** Output-layer entries: the base logits of the changed examples with row j replaced, into wide_z. */
  void output_logits(std::size_t count, std::size_t width, Scratch& s) const;
  /** Z[l+1] + W[l+1][:, j]·ΔA[l][j] on the changed examples of every copy (n[l+1] × width), into wide_z. */
  void update_next(std::size_t count, std::size_t l, std::size_t width, Scratch& s) const;
  /** The logits of every column (n[L] × width): the rank-1 update of Z[l+1], then the layers after. */
  const double* propagate(std::size_t count, std::size_t l, std::size_t width, Scratch& s) const;
  /** The change of J of each copy from its loss terms (and L2): numeric, rounding and kink per entry. */
  void score(std::span<const std::size_t> indices, std::size_t width, const double* logits, Scratch& s,
             std::span<double> numeric, std::span<double> rounding, std::span<unsigned char> kink) const;

  MlpForwardCache cache_;
  std::vector<double> cost_per_column_;  // per layer l: cost() of one changed column of Z[l]
  double cost_per_entry_ = 0;
  std::size_t batch_ = 1;
  double l2_scale_ = 0;  // λ/2m
  bool kinky_ = false;
  /** One thread's flop count on a cache line of its own: slots side by side would be written by two cores at once. */
  struct alignas(64) FlopCount {
    double value = 0;
  };
  mutable std::vector<FlopCount> flops_;  // per thread slot: performed_flops()
};

/** An Mlp check ready to run: checked inputs, the analytic gradient, the layout and the evaluator. */
struct MlpCheck {
  std::vector<double> own_analytic;    // dθ of forward_backward when the caller gave none
  std::span<const double> analytic;
  std::vector<TensorInfo> layout;
  GradcheckOptions options;            // threads 0 (the caller holds the ThreadLimit), m and λ/m set
  std::unique_ptr<Mlp<double>> in_tier;  // the model in the tier J is evaluated in, when not its own
  std::unique_ptr<LossEvaluator> evaluator;
};

/** The tier gradcheck evaluates a model of tier `model` in: precise unless options.model_accuracy. */
Accuracy evaluated_accuracy(Accuracy model, const GradcheckOptions& options);

/** Records in `report` the tier `net` runs in and the one the check evaluated in. */
MLPKIT_INTERNAL_EXPORT
void record_accuracy(GradcheckReport& report, const Mlp<double>& net, const GradcheckOptions& options);

/**
 * Checks x, y, the options and the analytic gradient against the model and builds the evaluator
 * options.evaluator names; analytic == nullptr: dθ from forward_backward on a copy of net. Call it
 * under ThreadLimit(options.threads). net, x, y and *analytic must outlive the result.
 */
MLPKIT_INTERNAL_EXPORT
MlpCheck prepare_mlp_check(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y,
                           const std::span<const double>* analytic, const GradcheckOptions& options);

}  // namespace mlpkit::detail
