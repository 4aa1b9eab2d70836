// mlpkit sweep: vanishing and exploding signals across depth at initialization, per init scheme
// and activation, and the course's demonstration with W[l] = c·I.
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "network_options.hpp"

namespace mlpkit::tool {
namespace {

struct SweepCommand {
  CommonOptions common;
  std::string depths = "1,2,4,8,16,32,64";
  std::size_t width = 64;
  std::size_t batch = 256;
  std::vector<std::string> schemes{"zeros", "normal", "lecun", "xavier", "he"};
  std::vector<std::string> activations{"relu", "tanh"};
  double init_scale = 0.01;
  std::vector<double> identity_c{1.5, 0.5};
};

double row_major_std(const Matrix<double>& a) {
  double sum = 0, sum2 = 0;
  const double count = static_cast<double>(a.rows() * a.cols());
  for (std::size_t i = 0; i < a.rows(); ++i)
    for (std::size_t j = 0; j < a.cols(); ++j) sum += a(i, j);
  const double mean = sum / count;
  for (std::size_t i = 0; i < a.rows(); ++i)
    for (std::size_t j = 0; j < a.cols(); ++j) sum2 += (a(i, j) - mean) * (a(i, j) - mean);
  return std::sqrt(sum2 / count);
}

// Standard deviation of every layer's output A[l] (Z[L] for the output layer), l = 1 … L.
std::vector<double> layer_stds(const Mlp<double>& net, const Matrix<double>& x) {
  std::vector<double> stds;
  Matrix<double> a = x;
  for (std::size_t l = 1; l <= net.layers(); ++l) {
    Matrix<double> out(net.config().dims[l], x.cols());
    net.forward_layer(l, a.view(), out.view());
    stds.push_back(row_major_std(out));
    a = std::move(out);
  }
  return stds;
}

// ‖dW‖_F: the gradient views are contiguous (ld = cols), so one dot product of the whole tensor.
double frobenius(MatrixView<const double> m) { return std::sqrt(dot(m.data, m.data, m.rows * m.cols)); }

nlohmann::json run_scheme(const SweepCommand& cmd, const std::string& activation, const std::string& scheme,
                          std::size_t depth, const Matrix<double>& x, const Matrix<double>& y) {
  MlpConfig<double> config;
  config.dims.assign(depth + 1, cmd.width);
  config.dims.push_back(1);  // depth hidden layers, then one sigmoid output
  config.hidden = parse_activation(activation);
  config.output = Activation::sigmoid;
  config.loss = Loss::binary_cross_entropy;
  config.init = parse_init(scheme);
  config.init_scale = cmd.init_scale;
  config.seed = cmd.common.seed;
  Mlp<double> net(config);
  const auto stds = layer_stds(net, x);
  net.forward_backward(x.view(), y.view());
  std::vector<double> grad_norms;
  for (std::size_t l = 1; l <= net.layers(); ++l) grad_norms.push_back(frobenius(net.weight_gradient(l)));
  return {{"activation", activation}, {"init", scheme},          {"depth", depth},
          {"activation_std", stds},   {"grad_norm", grad_norms}};
}

// The course's example: identity activations, b = 0, W[l] = c·I for l < L and W[L] = I, so ŷ = c^(L−1)·x.
nlohmann::json identity_demo(double c, std::size_t depth, std::size_t batch, std::uint64_t seed) {
  MlpConfig<double> config;
  config.dims.assign(depth + 1, 2);
  config.hidden = Activation::identity;
  config.output = Activation::identity;
  config.loss = Loss::mean_squared_error;
  config.init = Init::zeros;
  Mlp<double> net(config);
  for (std::size_t l = 1; l <= depth; ++l) {
    auto w = net.weights(l);
    for (std::size_t i = 0; i < 2; ++i) w(i, i) = l < depth ? c : 1.0;
  }
  Matrix<double> x, y;
  synthetic_batch(config, batch, seed, x, y);
  const auto stds = layer_stds(net, x);
  const double x_std = row_major_std(x);
  std::vector<double> growth;
  for (std::size_t l = 0; l < stds.size(); ++l) growth.push_back(stds[l] / (l == 0 ? x_std : stds[l - 1]));
  return {{"c", c},
          {"depth", depth},
          {"input_std", x_std},
          {"activation_std", stds},
          {"growth_per_layer", growth},
          {"yhat_std_over_input_std", stds.back() / x_std},
          {"expected", std::pow(c, static_cast<double>(depth) - 1)}};
}

std::string text_table(const nlohmann::json& result) {
  std::ostringstream out;
  out << "Activation std at initialization (last hidden layer) and ‖dW1‖, width " << result["width"] << ", batch "
      << result["batch"] << "\n";
  out << "activation  init     depth  std(A[last hidden])  ‖dW1‖\n";
  for (const auto& run : result["runs"]) {
    const auto& stds = run["activation_std"];
    const double last_hidden = stds.size() >= 2 ? stds[stds.size() - 2].get<double>() : stds[0].get<double>();
    char line[160];
    std::snprintf(line, sizeof line, "%-10s  %-7s  %5zu  %19.3e  %9.3e\n", run["activation"].get<std::string>().c_str(),
                  run["init"].get<std::string>().c_str(), run["depth"].get<std::size_t>(), last_hidden,
                  run["grad_norm"][0].get<double>());
    out << line;
  }
  out << "\nCourse demonstration: identity activations, W[l] = c·I, ŷ = c^(L−1)·x\n";
  for (const auto& demo : result["identity_demo"]) {
    char line[160];
    std::snprintf(line, sizeof line, "c = %.2f  L = %3zu  std(ŷ)/std(x) = %.4e  c^(L−1) = %.4e\n", demo["c"].get<double>(),
                  demo["depth"].get<std::size_t>(), demo["yhat_std_over_input_std"].get<double>(),
                  demo["expected"].get<double>());
    out << line;
  }
  return out.str();
}

void run(const SweepCommand& cmd) {
  apply_common_options(cmd.common);
  const auto depths = parse_dims(cmd.depths, "--depths", 1);
  nlohmann::json result = {{"command", "sweep"}, {"width", cmd.width}, {"batch", cmd.batch},
                           {"init_scale", cmd.init_scale}, {"seed", cmd.common.seed}};
  MlpConfig<double> data_shape;
  data_shape.dims = {cmd.width, 1};
  Matrix<double> x, y;
  synthetic_batch(data_shape, cmd.batch, cmd.common.seed, x, y);  // standardized inputs: N(0, 1)
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& activation : cmd.activations)
    for (const auto& scheme : cmd.schemes)
      for (std::size_t depth : depths) runs.push_back(run_scheme(cmd, activation, scheme, depth, x, y));
  result["runs"] = std::move(runs);
  nlohmann::json demos = nlohmann::json::array();
  for (double c : cmd.identity_c)
    for (std::size_t depth : depths) demos.push_back(identity_demo(c, depth, cmd.batch, cmd.common.seed));
  result["identity_demo"] = std::move(demos);
  emit(cmd.common, cmd.common.json ? result.dump(1) + "\n" : text_table(result));
}

}  // namespace

void register_sweep(CLI::App& app, int& exit_code) {
  static SweepCommand cmd;
  auto* command = app.add_subcommand("sweep", "Activation and gradient scale across depth at initialization");
  add_common_options(*command, cmd.common);
  command->add_option("--depths", cmd.depths, "Depths (hidden layers), comma-separated")->capture_default_str();
  command->add_option("--width", cmd.width, "Units per hidden layer")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--batch", cmd.batch, "Examples")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--schemes", cmd.schemes, "Init schemes")->check(CLI::IsMember(enum_names<Init>()))->delimiter(',');
  command->add_option("--activations", cmd.activations, "Hidden activations")
      ->check(CLI::IsMember(enum_names<Activation>()))
      ->delimiter(',');
  command->add_option("--init-scale", cmd.init_scale, "Scale of the normal scheme")->check(CLI::NonNegativeNumber);
  command->add_option("--identity-c", cmd.identity_c, "c of the W = c·I demonstration")->delimiter(',');
  command->callback([&exit_code] {
    run(cmd);
    exit_code = 0;
  });
}

}  // namespace mlpkit::tool
