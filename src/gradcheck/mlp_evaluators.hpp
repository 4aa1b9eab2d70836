#pragma once
// Evaluators of an Mlp's J for the perturbation loop: the naive one (a full Mlp::loss_at per
// evaluation, the course's algorithm) and the exact incremental one (cached forward pass, only the
// affected row and the layers after it recomputed, perturbations of one layer batched as columns).
#include <memory>
#include <vector>

#include "gradcheck/gradcheck_internal.hpp"
#include "mlpkit/mlp.hpp"

namespace mlpkit::detail {

/** J(θ ± hᵢeᵢ) by a full forward pass on a per-thread copy of θ. No kink detection. */
class NaiveMlpEvaluator final : public LossEvaluator {
 public:
  NaiveMlpEvaluator(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y, double eps);
  ~NaiveMlpEvaluator() override;
  std::size_t size() const override;
  double value() const override;
  double eps() const override { return eps_; }
  void differences_at(double step, std::span<const std::size_t> indices, std::span<double> numeric,
                      std::span<double> rounding, std::span<unsigned char> kink) const override;
  double at(std::span<const double> point) const override;
  std::size_t batch() const override { return 4; }
  double work_per_parameter() const override { return work_; }

 private:
  struct Slot;
  Slot& slot() const;
  const Mlp<double>& net_;
  MatrixView<const double> x_, y_;
  double eps_, work_;
  mutable std::vector<std::unique_ptr<Slot>> slots_;
};

/**
 * The exact incremental evaluator. Perturbing W[l][j][k] (or b[l][j]) by s changes only row j of
 * Z[l], by s·A[l−1][k][:] (or s); Z[l+1] then changes by the rank-1 term W[l+1][:, j]·ΔA[l][j][:];
 * only layers l+2 … L are recomputed, all perturbations of one work item side by side as extra
 * columns, so they run as one wide GEMM; only the examples whose activation changes are
 * propagated (see differences). Kinks: a ReLU / leaky-ReLU pre-activation whose sign differs
 * between the + and the − evaluation marks the entry.
 */
class IncrementalMlpEvaluator final : public LossEvaluator {
 public:
  IncrementalMlpEvaluator(const Mlp<double>& net, MatrixView<const double> x, MatrixView<const double> y, double eps);
  ~IncrementalMlpEvaluator() override;
  std::size_t size() const override;
  double value() const override;
  double eps() const override { return eps_; }
  void differences_at(double step, std::span<const std::size_t> indices, std::span<double> numeric,
                      std::span<double> rounding, std::span<unsigned char> kink) const override;
  double at(std::span<const double> point) const override;
  std::size_t batch() const override { return batch_; }
  double work_per_parameter() const override { return work_; }
  /** In GEMM flops: per entry, a fixed part plus its changed examples times the work of the layers after its own. */
  double cost(std::span<const std::size_t> indices) const override;
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
  /** out = f(W[k]·a_prev + b[k]) over `width` columns (ld = width). */
  void dense_layer(std::size_t k, const double* a_prev, double* out, std::size_t width, Activation f) const;

  const Mlp<double>& net_;
  MatrixView<const double> x_, y_;
  double eps_, work_ = 0;
  std::vector<double> cost_per_column_;  // per layer l: cost() of one changed column of Z[l]
  double cost_per_entry_ = 0;
  std::size_t layers_ = 0, m_ = 0, batch_ = 1;
  std::vector<std::size_t> dims_;
  std::vector<std::vector<double>> z_, a_, mask_;  // index l = 0 … L (a_[0] = X, z_[L] = logits)
  double l2_scale_ = 0;                            // λ/2m
  bool kinky_ = false;
  NaiveMlpEvaluator naive_;  // directional mode: full evaluations
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
