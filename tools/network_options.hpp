#pragma once
// Flags that describe an MLP (--dims, --hidden, --output, --loss, --init, …), parsed into an
// MlpConfig, and synthetic data that fits it. Shared by `gradcheck`, `sweep` and the experiments.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "enum_names.hpp"
#include "mlpkit/mlpkit.hpp"

namespace mlpkit::tool {

/** The textual form of the network flags, before validation. */
struct NetworkOptions {
  std::string dims = "20,16,8,1";
  std::string hidden = "relu";
  std::string accuracy = "precise";
  std::string output;  // empty: the one that fits the loss (sigmoid, softmax, identity)
  std::string loss = "binary_cross_entropy";
  std::string init = "he";
  double init_scale = 0.01;
  double l2 = 0;
  double keep_prob = 1;
  std::size_t batch = 32;
};

/** Adds --dims, --hidden, --accuracy, --output, --loss, --init, --init-scale, --l2, --keep-prob, --batch. */
void add_network_options(CLI::App& command, NetworkOptions& options);

/**
 * `--dims 784,128,64,10` as numbers. Throws CLI::ValidationError naming `flag` for an empty
 * list, a zero, a non-number or fewer than `min_count` entries.
 */
std::vector<std::size_t> parse_dims(const std::string& text, const std::string& flag = "--dims", std::size_t min_count = 2);

/** The MlpConfig the flags describe (`--output softmax` means cross-entropy over logits). */
MlpConfig<double> network_config(const NetworkOptions& options, std::uint64_t seed);

/** Standard-normal inputs x (n[0] × m) and targets y (n[L] × m) fitting the loss, from seed. */
void synthetic_batch(const MlpConfig<double>& config, std::size_t m, std::uint64_t seed, Matrix<double>& x,
                     Matrix<double>& y);

}  // namespace mlpkit::tool
