#pragma once
/** @file
 * The multilayer perceptron: configuration, the flat parameter vector θ, the forward pass with its
 * cache, backpropagation with L2 and (inverted) dropout, prediction.
 *
 * Notation of the course the library grew from: layers l = 1 … L, `dims = {n[0], …, n[L]}`,
 * examples are columns (`X` is n[0] × m, `Y` is n[L] × m), `W[l]` is n[l] × n[l−1], `b[l]` is
 * n[l] × 1, `Z[l] = W[l]·A[l−1] + b[l]`, `A[l] = g(Z[l])`, `A[0] = X`. Layer numbers in this API
 * are 1-based, as in the tensor names W1, b1, …
 *
 * Determinism: forward_backward and loss are bitwise identical for any thread count; the
 * initialization and the dropout masks are pure functions of the seed and their coordinates.
 */
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mlpkit/activations.hpp"
#include "mlpkit/export.hpp"
#include "mlpkit/init.hpp"
#include "mlpkit/losses.hpp"
#include "mlpkit/matrix.hpp"

namespace mlpkit MLPKIT_API {

/** One named slice of θ: `rows × cols` elements, row-major, starting at θ[offset]. */
struct TensorInfo {
  std::string name;         ///< "W1", "b1", … for an Mlp
  std::size_t offset = 0;   ///< index in θ of element (0, 0)
  std::size_t rows = 0;     ///< number of rows
  std::size_t cols = 0;     ///< number of columns
};

/**
 * What an Mlp is. Valid combinations of output activation and loss:
 * - `binary_cross_entropy`: `output = sigmoid`; n[L] = 1, or n[L] > 1 with `multi_label = true`
 *   (independent labels). The loss is computed from the logits Z[L] (stable), not from σ(Z[L]).
 * - `cross_entropy`: softmax over the n[L] ≥ 2 logits of each example. Softmax is not an elementwise
 *   activation, so `output` must be `identity` (the layer emits the logits; the loss applies softmax).
 * - `mean_squared_error`: any output activation (identity for regression); J = (1/(2m)) Σ ‖ŷ − y‖².
 */
template <class T>
struct MlpConfig {
  /** n[0] = inputs, …, n[L] = outputs; at least two entries, none 0, none above 2³²−1. */
  std::vector<std::size_t> dims;
  /** Activation of the hidden layers 1 … L−1. */
  Activation hidden = Activation::relu;
  /** Activation of the output layer L (see the loss rules above). */
  Activation output = Activation::sigmoid;
  /** The loss J is computed with (see the rules above). */
  Loss loss = Loss::binary_cross_entropy;
  /** How the constructor initializes the weights (biases start at 0). */
  Init init = Init::he;
  /** Multiplies Init::normal only (N(0,1)·init_scale); ≥ 0. */
  T init_scale = T(0.01);
  /** λ ≥ 0 of the L2 term (λ/2m) Σ_l ‖W[l]‖²_F (biases are not regularized). */
  T l2 = 0;
  /** Inverted dropout on the hidden layers: a unit is kept with probability keep_prob ∈ (0, 1]; 1: off. */
  T keep_prob = 1;
  /** Seeds the initialization and the dropout masks. */
  std::uint64_t seed = 0;
  /** Slope of leaky_relu for negative inputs (hidden or output). */
  T leaky_slope = T(0.01);
  /** binary_cross_entropy with n[L] > 1: each output is an independent label. */
  bool multi_label = false;
  /**
   * Accuracy tier of the hidden and output activations in training and prediction (see Accuracy);
   * gradcheck evaluates in precise unless its options say otherwise.
   */
  Accuracy accuracy = Accuracy::precise;

  /** Field by field (a NaN field compares unequal, as its value does). */
  bool operator==(const MlpConfig&) const = default;
};

/**
 * Throws mlpkit::Error naming the field and why when `config` is not a valid MlpConfig: fewer than
 * two dims, a zero or too large dim, keep_prob outside (0, 1], l2 < 0, init_scale < 0, a non-finite
 * number, or an output activation / loss / n[L] that do not fit together (see MlpConfig).
 */
template <class T>
MLPKIT_API void validate_config(const MlpConfig<T>& config);

/** The same configuration in another precision (numbers converted with static_cast). */
template <class T, class U>
MlpConfig<T> convert_config(const MlpConfig<U>& config) {
  // Binding every field: a field added to MlpConfig stops this from compiling until it is converted
  // here too (designated initializers keep the declaration order).
  const auto& [dims, hidden, output, loss, init, init_scale, l2, keep_prob, seed, leaky_slope, multi_label, accuracy] = config;
  return MlpConfig<T>{.dims = dims,
                      .hidden = hidden,
                      .output = output,
                      .loss = loss,
                      .init = init,
                      .init_scale = static_cast<T>(init_scale),
                      .l2 = static_cast<T>(l2),
                      .keep_prob = static_cast<T>(keep_prob),
                      .seed = seed,
                      .leaky_slope = static_cast<T>(leaky_slope),
                      .multi_label = multi_label,
                      .accuracy = accuracy};
}

/**
 * The dropout mask: true when unit `unit` (0-based row) of hidden layer `layer` (1-based) is kept
 * for example `example` (0-based column of the batch passed in) at dropout step `step`. A pure
 * function of its arguments (Philox4x32-10 keyed by the seed), the same in every evaluation, so
 * J(θ ± εeᵢ) at a fixed step compare. keep_prob = 1 keeps everything. Kept activations are scaled by
 * 1/keep_prob (inverted dropout). Throws mlpkit::Error for keep_prob outside (0, 1] and for
 * layer or unit above 2³²−1.
 */
bool dropout_keep(std::uint64_t seed, std::uint64_t step, std::size_t layer, std::size_t unit, std::size_t example,
                  double keep_prob);

template <class T>
class Mlp;

/**
 * Tag of the Mlp constructor that skips the initialization and leaves θ's values unspecified (not
 * even zeroed), for readers that write every parameter next.
 */
struct SkipInit {};
/** The SkipInit tag: `Mlp<float> net(config, skip_init)`. */
inline constexpr SkipInit skip_init{};

namespace detail {
/**
 * AlignedAllocator whose value-less construct default-initializes: resize() of a vector of numbers
 * allocates without writing (θ of a model a reader fills next is touched once, by the reader).
 */
template <class T>
struct DefaultInitAllocator : AlignedAllocator<T> {
  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor): rebinding
  /** Default-initializes *p (no value for numbers). */
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  /** Constructs *p from args (copies keep their values). */
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
}  // namespace detail

/**
 * Buffers of one forward (and backward) pass: Z[l], A[l], dropout masks, gradient scratch.
 * Reused across calls (they only grow), so evaluating a warm workspace allocates nothing.
 * A workspace may serve any Mlp, but only one call at a time: give each thread its own.
 */
template <class T>
class MlpWorkspace {
 public:
  MlpWorkspace() = default;

 private:
  friend class Mlp<T>;
  // 64-byte aligned: GEMMs write them from several threads (see detail::AlignedAllocator).
  std::vector<detail::AlignedVector<T>> z_, a_, mask_;
  detail::AlignedVector<T> dz_, dz_next_;
  std::vector<T> output_;
  // The cached masks are those of (seed, step, keep_prob, m); recomputed when any changes.
  bool mask_valid_ = false;
  std::uint64_t mask_seed_ = 0, mask_step_ = 0;
  T mask_keep_prob_ = 0;
  std::size_t mask_examples_ = 0;
  std::vector<std::size_t> mask_dims_;
};

/**
 * A multilayer perceptron in precision T (float or double).
 *
 * θ = (W1, b1, W2, b2, …, WL, bL), each row-major and contiguous (ld = cols), in one vector;
 * dθ has the same layout. The model owns a workspace for forward_backward; `loss` and `predict` are
 * const and thread-safe (they use their own or a given workspace). Copyable and movable.
 */
template <class T>
class Mlp {
 public:
  /** A model initialized from config (see Init; biases 0; dropout step 0). Throws as validate_config. */
  explicit Mlp(const MlpConfig<T>& config);
  /**
   * The same architecture with θ allocated but neither initialized nor zeroed (its values are
   * unspecified; config is kept as given, so it still names the scheme): a model file's reader
   * writes every parameter right after, without paying for an initialization or a zeroing it would
   * overwrite. Throws as validate_config.
   */
  Mlp(const MlpConfig<T>& config, SkipInit);
  /**
   * As Mlp(config, skip_init), but θ takes over the storage of `storage`'s θ when it holds as many
   * parameters (its values are unspecified then too): a model read over a former one of the same
   * size touches pages already mapped instead of faulting in fresh ones. `storage` is left as a
   * moved-from model (assign or destroy it). Throws as validate_config, leaving `storage` unchanged.
   */
  Mlp(const MlpConfig<T>& config, SkipInit, Mlp&& storage);

  /** A copy of a model of the other precision: same config, parameters converted, same step. */
  template <class U>
  explicit Mlp(const Mlp<U>& other) : Mlp(convert_config<T>(other.config())) {
    const auto source = other.parameters();
    for (std::size_t i = 0; i < source.size(); ++i) theta_[i] = static_cast<T>(source[i]);
    step_ = other.step();
  }

  /** A copy of `other` (parameters, step) whose activations run in `accuracy` instead of its own. */
  Mlp(const Mlp& other, Accuracy accuracy) : Mlp(other) { config_.accuracy = accuracy; }

  /** The configuration the model was built from. */
  const MlpConfig<T>& config() const { return config_; }
  /** L, the number of layers with weights (dims.size() − 1). */
  std::size_t layers() const { return config_.dims.size() - 1; }
  /** Number of parameters, Σ_l n[l]·(n[l−1] + 1). */
  std::size_t parameter_count() const { return theta_.size(); }

  /** θ = W1, b1, W2, b2, … flattened, row-major each. Writable: set weights through it. */
  std::span<T> parameters() { return theta_; }
  /** θ = W1, b1, W2, b2, … flattened, row-major each. */
  std::span<const T> parameters() const { return theta_; }
  /**
   * dθ in θ's layout, as filled by the last forward_backward (zeros before the first). dθ is
   * allocated on first need (forward_backward or a gradient accessor), so a model that only predicts
   * never holds it; until then, do not call the gradient accessors concurrently with other calls.
   */
  std::span<const T> gradients() const { return {gradient_data(), theta_.size()}; }
  /** W1, b1, W2, b2, … with their offset, rows and cols in θ (W[l]: n[l] × n[l−1], b[l]: n[l] × 1). */
  std::vector<TensorInfo> tensors() const;

  /** W[l], n[l] × n[l−1] (ld = n[l−1]), a view into θ; l in 1 … L, else throws mlpkit::Error. */
  MatrixView<T> weights(std::size_t l);
  /** W[l], read-only; l in 1 … L, else throws mlpkit::Error. */
  MatrixView<const T> weights(std::size_t l) const;
  /** b[l], n[l] × 1 (ld = 1), a view into θ; l in 1 … L, else throws mlpkit::Error. */
  MatrixView<T> bias(std::size_t l);
  /** b[l], read-only; l in 1 … L, else throws mlpkit::Error. */
  MatrixView<const T> bias(std::size_t l) const;
  /** dW[l] of the last forward_backward, a view into dθ; l in 1 … L, else throws. */
  MatrixView<const T> weight_gradient(std::size_t l) const;
  /** db[l] of the last forward_backward, a view into dθ; l in 1 … L, else throws. */
  MatrixView<const T> bias_gradient(std::size_t l) const;

  /** The dropout step whose masks loss and forward_backward use (see dropout_keep). Starts at 0. */
  std::uint64_t step() const { return step_; }
  /** Sets the dropout step; the trainer sets it to the iteration number. Never changed implicitly. */
  void set_step(std::uint64_t step) { step_ = step; }

  /**
   * J(θ) = (1/m) Σᵢ loss(ŷ⁽ⁱ⁾, y⁽ⁱ⁾) + (λ/2m) Σ_l ‖W[l]‖²_F, with the dropout masks of the current
   * step (the training objective that forward_backward differentiates).
   * x: n[0] × m, y: n[L] × m, m ≥ 1, any ld. Throws mlpkit::Error for wrong shapes, m = 0, invalid
   * views, and labels the loss rejects (BCE: not 0/1; CE: outside [0, 1]).
   */
  T loss(MatrixView<const T> x, MatrixView<const T> y) const;
  /** loss() with a caller's workspace (no allocation once warm). */
  T loss(MatrixView<const T> x, MatrixView<const T> y, MlpWorkspace<T>& workspace) const;
  /**
   * J at other parameters `theta` (θ's layout and size), with this model's config and step: what a
   * gradient checker evaluates at θ ± εeᵢ without copying the model. Throws as loss(), and when
   * theta's size differs from parameter_count().
   */
  T loss_at(std::span<const T> theta, MatrixView<const T> x, MatrixView<const T> y,
            MlpWorkspace<T>& workspace) const;

  /**
   * J(θ) as loss() does, and dθ into gradients(): dW[l] = dZ[l]·A[l−1]ᵀ + (λ/m)·W[l],
   * db[l] = Σ_columns dZ[l]. The forward pass runs the fused GEMM epilogue (bias + activation,
   * storing Z[l] only where g'(Z) cannot be read exactly off A, i.e. unless the hidden activation is
   * identity, relu or leaky_relu without dropout); buffers are reused, so a warm call with the same
   * or a smaller m allocates nothing.
   * Throws as loss().
   */
  T forward_backward(MatrixView<const T> x, MatrixView<const T> y);

  /**
   * The output ŷ = g_out(Z[L]) without dropout (softmax probabilities for cross_entropy) into
   * out (n[L] × m). x: n[0] × m. Throws mlpkit::Error for wrong shapes and invalid views.
   */
  void predict(MatrixView<const T> x, MatrixView<T> out) const;
  /** predict() with a caller's workspace: once warm (the same or a smaller m), it allocates nothing. */
  void predict(MatrixView<const T> x, MatrixView<T> out, MlpWorkspace<T>& workspace) const;
  /** The same, returned as a new n[L] × m matrix. */
  Matrix<T> predict(MatrixView<const T> x) const;

  /**
   * One layer of the training-mode forward pass, for evaluators that recompute only part of the
   * network: for a hidden layer l < L, out = g(Z[l]) with the dropout mask of the current step
   * applied (columns are examples first_example, first_example+1, … of the batch); for l = L, out =
   * Z[L], the logits. z (optional, data may be null) receives Z[l]. a_prev: n[l−1] × k, out and z:
   * n[l] × k. Uses this model's θ. Throws mlpkit::Error for l outside 1 … L and wrong shapes.
   */
  void forward_layer(std::size_t l, MatrixView<const T> a_prev, MatrixView<T> out, std::size_t first_example = 0,
                     MatrixView<T> z = {}) const;

 private:
  std::size_t weight_offset(std::size_t l) const { return weight_offset_[l - 1]; }
  std::size_t bias_offset(std::size_t l) const { return weight_offset_[l - 1] + config_.dims[l] * config_.dims[l - 1]; }
  void check_layer(const char* function, std::size_t l) const;
  void check_input(const char* function, MatrixView<const T> x) const;
  void check_batch(const char* function, MatrixView<const T> x, MatrixView<const T> y) const;
  void check_apart_from_parameters(const char* function, const char* name, MatrixView<const T> v) const;
  void check_apart_from_gradients(const char* function, const char* name, MatrixView<const T> v) const;
  T checked_loss(const T* theta, MatrixView<const T> x, MatrixView<const T> y, MlpWorkspace<T>& workspace) const;
  MatrixView<const T> forward_pass(const T* theta, MatrixView<const T> x, MlpWorkspace<T>& ws, bool keep_z,
                                   bool dropout) const;
  void prepare_masks(MlpWorkspace<T>& ws, std::size_t m) const;
  /** Validates config_, lays out θ and sizes it, taking `reuse`'s storage when it has that size. */
  void lay_out(std::vector<T, detail::DefaultInitAllocator<T>>* reuse);
  /** dθ, allocated (zeros) on the first call. */
  T* gradient_data() const;

  MlpConfig<T> config_;
  std::vector<std::size_t> weight_offset_;
  // 64-byte aligned as the workspace: the GEMM of dW[l] writes its columns from several threads.
  // θ is allocated without zeroing (SkipInit), dθ lazily (gradient_data): loading a model touches
  // its θ once, by the reader, and its dθ never.
  std::vector<T, detail::DefaultInitAllocator<T>> theta_;
  mutable detail::AlignedVector<T> grad_;
  std::uint64_t step_ = 0;
  MlpWorkspace<T> workspace_;
};

extern template class Mlp<float>;
extern template class Mlp<double>;

}  // namespace mlpkit
