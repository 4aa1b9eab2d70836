#include "network_options.hpp"

#include <charconv>
#include <random>

namespace mlpkit::tool {
void add_network_options(CLI::App& command, NetworkOptions& options) {
  command.add_option("--dims", options.dims, "Layer sizes n[0],…,n[L], e.g. 784,128,64,10")->capture_default_str();
  auto hidden = enum_names<Activation>();
  auto outputs = enum_names<Activation>();
  outputs.emplace_back("softmax");
  command.add_option("--hidden", options.hidden, "Hidden activation: " + joined(hidden))
      ->check(CLI::IsMember(hidden))
      ->capture_default_str();
  const auto tiers = enum_names<Accuracy>();
  command.add_option("--accuracy", options.accuracy, "Accuracy tier of the activations: " + joined(tiers))
      ->check(CLI::IsMember(tiers))
      ->capture_default_str();
  command.add_option("--output", options.output, "Output activation: " + joined(outputs) + " (default: fits --loss)")
      ->check(CLI::IsMember(outputs));
  command.add_option("--loss", options.loss, "Loss: " + joined(enum_names<Loss>()))
      ->check(CLI::IsMember(enum_names<Loss>()))
      ->capture_default_str();
  command.add_option("--init", options.init, "Initialization: " + joined(enum_names<Init>()))
      ->check(CLI::IsMember(enum_names<Init>()))
      ->capture_default_str();
  command.add_option("--init-scale", options.init_scale, "Scale of --init normal")->check(CLI::NonNegativeNumber);
  command.add_option("--l2", options.l2, "L2 regularization λ ≥ 0")->check(CLI::NonNegativeNumber);
  command.add_option("--keep-prob", options.keep_prob, "Dropout keep probability in (0, 1]")
      ->check(CLI::Range(std::nextafter(0.0, 1.0), 1.0, "a number in (0, 1]"));
  command.add_option("--batch", options.batch, "Examples in the batch")->check(CLI::PositiveNumber)->capture_default_str();
}

std::vector<std::size_t> parse_dims(const std::string& text, const std::string& flag, std::size_t min_count) {
  std::vector<std::size_t> dims;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string field = text.substr(start, comma - start);
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (field.empty() || ec != std::errc() || end != field.data() + field.size() || value == 0)
      throw CLI::ValidationError(flag, "'" + text + "': expected positive integers separated by commas, e.g. 784,128,10");
    dims.push_back(value);
    start = comma + 1;
  }
  if (dims.size() < min_count)
    throw CLI::ValidationError(flag, "'" + text + "': needs at least " + std::to_string(min_count) + " values");
  return dims;
}

MlpConfig<double> network_config(const NetworkOptions& options, std::uint64_t seed) {
  MlpConfig<double> config;
  config.dims = parse_dims(options.dims);
  config.hidden = parse_activation(options.hidden);
  config.accuracy = parse_accuracy(options.accuracy);
  config.loss = parse_loss(options.loss);
  if (options.output == "softmax") {
    if (config.loss != Loss::cross_entropy)
      throw CLI::ValidationError("--output", "softmax goes with --loss cross_entropy");
    config.output = Activation::identity;  // the loss applies softmax to the logits
  } else if (!options.output.empty()) {
    config.output = parse_activation(options.output);
  } else {
    config.output = config.loss == Loss::binary_cross_entropy ? Activation::sigmoid : Activation::identity;
  }
  config.init = parse_init(options.init);
  config.init_scale = options.init_scale;
  config.l2 = options.l2;
  config.keep_prob = options.keep_prob;
  config.seed = seed;
  config.multi_label = config.loss == Loss::binary_cross_entropy && config.dims.back() > 1;
  validate_config(config);
  return config;
}

void synthetic_batch(const MlpConfig<double>& config, std::size_t m, std::uint64_t seed, Matrix<double>& x,
                     Matrix<double>& y) {
  std::mt19937_64 rng(seed ^ 0x5deece66dULL);
  std::normal_distribution<double> normal(0.0, 1.0);
  x = Matrix<double>(config.dims.front(), m);
  y = Matrix<double>(config.dims.back(), m);
  for (std::size_t i = 0; i < x.rows(); ++i)
    for (std::size_t j = 0; j < m; ++j) x(i, j) = normal(rng);
  for (std::size_t j = 0; j < m; ++j) {
    if (config.loss == Loss::cross_entropy) {
      y(rng() % y.rows(), j) = 1.0;
    } else {
      for (std::size_t i = 0; i < y.rows(); ++i)
        y(i, j) = config.loss == Loss::binary_cross_entropy ? static_cast<double>(rng() % 2) : normal(rng);
    }
  }
}

}  // namespace mlpkit::tool
