#pragma once
/** @file
 * A small trainer for Mlp: batch or mini-batch gradient descent, with momentum or Adam.
 * It exists for the experiments and examples, not to compete with training frameworks.
 * Reproducible: shuffles come from a counter-based generator keyed by the seed and the epoch, and
 * the dropout step of the model is set to the iteration number before each update.
 */
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mlpkit/export.hpp"
#include "mlpkit/matrix.hpp"
#include "mlpkit/mlp.hpp"

namespace mlpkit MLPKIT_API {

/** The update rule. */
enum class Optimizer {
  gradient_descent,  // θ ← θ − α·dθ
  momentum,          // v ← β₁v + (1−β₁)dθ;  θ ← θ − α·v
  adam               // v, s with bias correction (t = update count): θ ← θ − α·v̂/(√ŝ + ε)
};

template <> struct EnumTable<Optimizer> : EnumNames<"Optimizer", "gradient_descent", "momentum", "adam"> {};

/** "gradient_descent", "momentum" or "adam". */
std::string_view optimizer_name(Optimizer optimizer);
/** The Optimizer named `name`; throws mlpkit::Error listing the accepted names. */
Optimizer parse_optimizer(std::string_view name);

/** Options of train. */
struct TrainOptions {
  /** The update rule. */
  Optimizer optimizer = Optimizer::gradient_descent;
  /** α > 0. */
  double learning_rate = 0.01;
  /** Passes over the data (≥ 1). */
  std::size_t epochs = 100;
  /** Examples per mini-batch; 0 (or ≥ m): full batch. The last batch of an epoch may be smaller. */
  std::size_t batch_size = 0;
  /** Shuffle the examples each epoch (mini-batches only). */
  bool shuffle = true;
  /** Seed of the shuffles. */
  std::uint64_t seed = 1;
  /** β₁ of momentum and Adam. */
  double beta1 = 0.9;
  /** β₂ of Adam. */
  double beta2 = 0.999;
  /** ε of Adam. */
  double epsilon = 1e-8;
  /** Learning rate of epoch e: α / (1 + decay·e) (0: constant). */
  double decay = 0;
  /**
   * Called after each epoch with its number (1-based) and its loss (the epoch_loss entry), e.g. to
   * report progress; empty: not called. It does not change the training; what it throws propagates.
   */
  std::function<void(std::size_t epoch, double loss)> on_epoch;
};

/** What train returns. */
struct TrainResult {
  /** Per epoch: the mean cost of its mini-batches weighted by their sizes (J of each update, L2 included). */
  std::vector<double> epoch_loss;
  /** Per update: J of the mini-batch before the update. */
  std::vector<double> iteration_loss;
  /** Number of updates made. */
  std::size_t iterations = 0;
};

/**
 * Trains `net` on x (n[0] × m) and y (n[L] × m). Each update runs net.forward_backward on one
 * mini-batch (the dropout step set to the update count) and applies the optimizer to θ.
 * Throws mlpkit::Error for wrong shapes, m = 0, learning_rate ≤ 0 or not finite, epochs = 0,
 * β₁ or β₂ outside [0, 1), ε ≤ 0, decay < 0, and when the loss becomes non-finite (diverged:
 * the message names the epoch and a hint to lower the learning rate).
 */
template <class T>
MLPKIT_API TrainResult train(Mlp<T>& net, std::type_identity_t<MatrixView<const T>> x, std::type_identity_t<MatrixView<const T>> y,
                  const TrainOptions& options = {});

}  // namespace mlpkit
