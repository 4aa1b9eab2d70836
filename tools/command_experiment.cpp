// mlpkit experiment fd-error | normalization | init: the course's experiments, as numbers and JSON
// for tools/plots/plot_experiments.py.
#include <cmath>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "datasets.hpp"
#include "network_options.hpp"
#include "training_utils.hpp"

namespace mlpkit::tool {
namespace {

// ---------------------------------------------------------------- fd-error
struct FdErrorCommand {
  CommonOptions common;
  std::string dims = "4,5,3,1";
  std::size_t batch = 16;
  double eps_max = 1e-1, eps_min = 1e-12;
  int points_per_decade = 2;
  double fit_min = 1e-4, fit_max = 1e-2;  // where truncation error dominates rounding
};

double relative_error(const std::vector<double>& approx, std::span<const double> exact) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < approx.size(); ++i) {
    diff += (approx[i] - exact[i]) * (approx[i] - exact[i]);
    norm += exact[i] * exact[i];
  }
  return std::sqrt(diff) / std::sqrt(norm);
}

// Least-squares slope of log10(error) against log10(ε) over fit_min ≤ ε ≤ fit_max.
double fitted_slope(const std::vector<double>& eps, const std::vector<double>& error, double lo, double hi) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < eps.size(); ++i) {
    if (eps[i] < lo * (1 - 1e-9) || eps[i] > hi * (1 + 1e-9) || error[i] <= 0) continue;
    const double x = std::log10(eps[i]), y = std::log10(error[i]);
    n += 1, sx += x, sy += y, sxx += x * x, sxy += x * y;
  }
  if (n < 2) throw Error("mlpkit experiment fd-error: fewer than two ε in the fit range");
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

void run_fd_error(const FdErrorCommand& cmd) {
  apply_common_options(cmd.common);
  if (!(cmd.eps_min > 0 && cmd.eps_min < cmd.eps_max)) throw CLI::ValidationError("--eps-min", "must be in (0, --eps-max)");
  MlpConfig<double> config;
  config.dims = parse_dims(cmd.dims);
  config.hidden = Activation::tanh;  // smooth everywhere: no kinks to spoil the slopes
  config.output = Activation::sigmoid;
  config.loss = Loss::binary_cross_entropy;
  config.init = Init::xavier;
  config.seed = cmd.common.seed;
  config.multi_label = config.dims.back() > 1;
  Mlp<double> net(config);
  Matrix<double> x, y;
  synthetic_batch(config, cmd.batch, cmd.common.seed + 1, x, y);
  const double j0 = net.forward_backward(x.view(), y.view());
  const auto exact = net.gradients();
  const auto theta0 = net.parameters();
  MlpWorkspace<double> workspace;
  std::vector<double> theta(theta0.begin(), theta0.end());

  std::vector<double> eps_grid, one_sided, two_sided;
  const double decades = std::log10(cmd.eps_max / cmd.eps_min);
  const int points = static_cast<int>(std::lround(decades * cmd.points_per_decade));
  for (int p = 0; p <= points; ++p) {
    const double eps = cmd.eps_max * std::pow(10.0, -static_cast<double>(p) / cmd.points_per_decade);
    std::vector<double> one(theta.size()), two(theta.size());
    for (std::size_t i = 0; i < theta.size(); ++i) {
      theta[i] = theta0[i] + eps;
      const double plus = net.loss_at(theta, x.view(), y.view(), workspace);
      theta[i] = theta0[i] - eps;
      const double minus = net.loss_at(theta, x.view(), y.view(), workspace);
      theta[i] = theta0[i];
      one[i] = (plus - j0) / eps;            // (J(θ+εeᵢ) − J(θ)) / ε: error O(ε)
      two[i] = (plus - minus) / (2 * eps);   // (J(θ+εeᵢ) − J(θ−εeᵢ)) / 2ε: error O(ε²)
    }
    eps_grid.push_back(eps);
    one_sided.push_back(relative_error(one, exact));
    two_sided.push_back(relative_error(two, exact));
  }
  const double slope_one = fitted_slope(eps_grid, one_sided, cmd.fit_min, cmd.fit_max);
  const double slope_two = fitted_slope(eps_grid, two_sided, cmd.fit_min, cmd.fit_max);
  auto best = [&](const std::vector<double>& err) {
    std::size_t b = 0;
    for (std::size_t i = 1; i < err.size(); ++i) b = err[i] < err[b] ? i : b;
    return b;
  };
  nlohmann::json result = {{"command", "experiment fd-error"},
                           {"dims", config.dims},
                           {"batch", cmd.batch},
                           {"parameters", theta.size()},
                           {"eps", eps_grid},
                           {"one_sided_error", one_sided},
                           {"two_sided_error", two_sided},
                           {"fit_range", {cmd.fit_min, cmd.fit_max}},
                           {"one_sided_slope", slope_one},
                           {"two_sided_slope", slope_two},
                           {"best_eps_one_sided", eps_grid[best(one_sided)]},
                           {"best_eps_two_sided", eps_grid[best(two_sided)]}};
  if (cmd.common.json) return emit(cmd.common, result.dump(1) + "\n");
  std::ostringstream out;
  out << "Relative error ‖dθ_approx − dθ‖/‖dθ‖ of finite differences on a " << cmd.dims << " tanh network (" << theta.size()
      << " parameters)\n        ε   one-sided   two-sided\n";
  for (std::size_t i = 0; i < eps_grid.size(); ++i) {
    char line[96];
    std::snprintf(line, sizeof line, "%9.1e  %10.3e  %10.3e\n", eps_grid[i], one_sided[i], two_sided[i]);
    out << line;
  }
  char summary[256];
  std::snprintf(summary, sizeof summary,
                "fitted slopes over ε ∈ [%.0e, %.0e]: one-sided %.3f (theory 1), two-sided %.3f (theory 2)\n"
                "best ε: one-sided %.0e, two-sided %.0e (below it, rounding error grows as 1/ε)\n",
                cmd.fit_min, cmd.fit_max, slope_one, slope_two, eps_grid[best(one_sided)], eps_grid[best(two_sided)]);
  out << summary;
  emit(cmd.common, out.str());
}

// ---------------------------------------------------------------- training experiments
struct TrainedRun {
  double learning_rate = 0;
  std::vector<double> loss;
  std::size_t iterations_to_target = 0;  // 0: never reached
  double test_accuracy = 0, train_accuracy = 0;
  bool diverged = false;
};

std::size_t first_below(const std::vector<double>& curve, double target) {
  for (std::size_t i = 0; i < curve.size(); ++i)
    if (curve[i] <= target) return i + 1;
  return 0;
}

nlohmann::json run_json(const TrainedRun& run) {
  return {{"learning_rate", run.learning_rate},
          {"loss", run.loss},
          {"iterations_to_target", run.iterations_to_target == 0 ? nlohmann::json(nullptr) : nlohmann::json(run.iterations_to_target)},
          {"final_loss", run.loss.empty() ? nlohmann::json(nullptr) : nlohmann::json(run.loss.back())},
          {"train_accuracy", run.train_accuracy},
          {"test_accuracy", run.test_accuracy},
          {"diverged", run.diverged}};
}

TrainedRun train_once(const MlpConfig<double>& config, const Split& split, const TrainOptions& options, double target) {
  TrainedRun run;
  run.learning_rate = options.learning_rate;
  Mlp<double> net(config);
  const Matrix<double> y = targets(split.train, config.dims.back() > 1);
  try {
    run.loss = train(net, split.train.x.view(), y.view(), options).epoch_loss;
  } catch (const Error&) {
    run.diverged = true;  // the loss became non-finite
    return run;
  }
  run.iterations_to_target = first_below(run.loss, target);
  run.train_accuracy = accuracy(net, split.train);
  run.test_accuracy = accuracy(net, split.test);
  return run;
}

// Of several learning rates, the one that reaches the target first (else the lowest final loss).
TrainedRun best_of(const std::vector<TrainedRun>& runs) {
  const TrainedRun* best = nullptr;
  auto score = [](const TrainedRun& r) {
    if (r.diverged || r.loss.empty()) return std::numeric_limits<double>::infinity();
    return r.iterations_to_target != 0 ? static_cast<double>(r.iterations_to_target) : 1e12 + r.loss.back();
  };
  for (const auto& r : runs)
    if (best == nullptr || score(r) < score(*best)) best = &r;
  return best == nullptr ? TrainedRun{} : *best;
}

struct NormalizationCommand {
  CommonOptions common;
  std::string data;  // default: the shipped breast_cancer.csv
  std::string hidden_dims = "16,8";
  double target_loss = 0.1;
  std::size_t iterations = 2000;
  std::vector<double> learning_rates{1, 0.3, 0.1, 0.01, 1e-3, 1e-4};
};

void run_normalization(const NormalizationCommand& cmd) {
  apply_common_options(cmd.common);
  const auto path = cmd.data.empty() ? find_data_file("breast_cancer.csv") : std::filesystem::path(cmd.data);
  const Dataset data = load_csv_dataset(path);
  Split raw = split_dataset(data, 0.2, cmd.common.seed);
  Split standardized = raw;
  standardize_split(standardized);

  MlpConfig<double> config;
  config.dims = {data.features()};
  for (std::size_t n : parse_dims(cmd.hidden_dims, "--hidden-dims", 1)) config.dims.push_back(n);
  config.dims.push_back(1);
  config.hidden = Activation::relu;
  config.output = Activation::sigmoid;
  config.loss = Loss::binary_cross_entropy;
  config.init = Init::he;
  config.seed = cmd.common.seed;
  TrainOptions options;
  options.optimizer = Optimizer::gradient_descent;  // plain GD feels the stretched cost surface most
  options.epochs = cmd.iterations;

  nlohmann::json result = {{"command", "experiment normalization"},
                           {"data", path.string()},
                           {"dims", config.dims},
                           {"target_loss", cmd.target_loss},
                           {"max_iterations", cmd.iterations}};
  for (const auto& [name, split] : {std::pair<const char*, const Split*>{"raw", &raw}, {"standardized", &standardized}}) {
    std::vector<TrainedRun> runs;
    for (double lr : cmd.learning_rates) {
      options.learning_rate = lr;
      runs.push_back(train_once(config, *split, options, cmd.target_loss));
    }
    nlohmann::json all = nlohmann::json::array();
    for (const auto& r : runs)
      all.push_back({{"learning_rate", r.learning_rate},
                     {"iterations_to_target", r.iterations_to_target == 0 ? nlohmann::json(nullptr) : nlohmann::json(r.iterations_to_target)},
                     {"diverged", r.diverged}});
    result[name] = run_json(best_of(runs));
    result[name]["learning_rates_tried"] = std::move(all);
  }
  if (cmd.common.json) return emit(cmd.common, result.dump(1) + "\n");
  std::ostringstream out;
  out << "Breast Cancer Wisconsin, " << data.features() << " features; gradient descent, best of "
      << cmd.learning_rates.size() << " learning rates each; target loss " << cmd.target_loss << "\n";
  for (const char* name : {"raw", "standardized"}) {
    const auto& r = result[name];
    const std::string reached = r["iterations_to_target"].is_null()
                                    ? "never (within " + std::to_string(cmd.iterations) + ")"
                                    : r["iterations_to_target"].dump();
    char line[256];
    std::snprintf(line, sizeof line, "  %-12s best learning rate %-6g iterations to target %-18s final loss %.4g   test accuracy %.3f\n",
                  name, r["learning_rate"].get<double>(), reached.c_str(),
                  r["final_loss"].is_null() ? NAN : r["final_loss"].get<double>(), r["test_accuracy"].get<double>());
    out << line;
  }
  emit(cmd.common, out.str());
}

struct InitCommand {
  CommonOptions common;
  std::string data;  // default: the shipped digits.csv.gz
  std::size_t depth = 6, width = 64, epochs = 20, batch_size = 64;
  double learning_rate = 0.05;
  double init_scale = 0.01;
  std::vector<std::string> schemes{"zeros", "normal", "lecun", "xavier", "he"};
};

void run_init(const InitCommand& cmd) {
  apply_common_options(cmd.common);
  const auto path = cmd.data.empty() ? find_data_file("digits.csv.gz") : std::filesystem::path(cmd.data);
  const Dataset data = load_csv_dataset(path);
  Split split = split_dataset(data, 0.2, cmd.common.seed);
  standardize_split(split);
  MlpConfig<double> config;
  config.dims.assign(cmd.depth + 1, cmd.width);
  config.dims.front() = data.features();
  config.dims.push_back(data.classes);
  config.hidden = Activation::relu;
  config.output = Activation::identity;  // logits; the loss applies softmax
  config.loss = Loss::cross_entropy;
  config.init_scale = cmd.init_scale;
  config.seed = cmd.common.seed;
  TrainOptions options;
  options.optimizer = Optimizer::momentum;
  options.learning_rate = cmd.learning_rate;
  options.epochs = cmd.epochs;
  options.batch_size = cmd.batch_size;
  options.seed = cmd.common.seed;
  nlohmann::json result = {{"command", "experiment init"}, {"data", path.string()}, {"dims", config.dims},
                           {"optimizer", "momentum"},      {"learning_rate", cmd.learning_rate}, {"epochs", cmd.epochs}};
  std::ostringstream out;
  out << "8×8 digits, " << config.dims.size() - 1 << " layers of width " << cmd.width << ", softmax + cross-entropy, "
      << cmd.epochs << " epochs of momentum (lr " << cmd.learning_rate << ")\n";
  for (const auto& scheme : cmd.schemes) {
    config.init = parse_init(scheme);
    const TrainedRun run = train_once(config, split, options, 0.0);
    result["schemes"][scheme] = run_json(run);
    char line[160];
    std::snprintf(line, sizeof line, "  %-14s loss %8.4f → %8.4f   test accuracy %.3f%s\n", scheme.c_str(),
                  run.loss.empty() ? NAN : run.loss.front(), run.loss.empty() ? NAN : run.loss.back(), run.test_accuracy,
                  run.diverged ? "  (diverged)" : "");
    out << line;
  }
  emit(cmd.common, cmd.common.json ? result.dump(1) + "\n" : out.str());
}

// Adds the experiment `name` to `experiment`, with the common options and `run(command)` as its callback.
template <class Command>
CLI::App& add_experiment(CLI::App& experiment, const char* name, const char* description, Command& command,
                         void (*run)(const Command&), int& exit_code) {
  auto* sub = experiment.add_subcommand(name, description);
  add_common_options(*sub, command.common);
  sub->callback([&command, run, &exit_code] { run(command), exit_code = 0; });
  return *sub;
}

}  // namespace

void register_experiment(CLI::App& app, int& exit_code) {
  auto* experiment = app.add_subcommand("experiment", "The course's experiments");
  experiment->require_subcommand(1);

  static FdErrorCommand fd;
  auto& fd_command = add_experiment(*experiment, "fd-error", "One- vs two-sided finite-difference error against ε", fd,
                                    run_fd_error, exit_code);
  fd_command.add_option("--dims", fd.dims, "Layer sizes of the smooth (tanh) network")->capture_default_str();
  fd_command.add_option("--batch", fd.batch, "Examples")->check(CLI::PositiveNumber)->capture_default_str();
  fd_command.add_option("--eps-max", fd.eps_max, "Largest ε")->check(CLI::PositiveNumber)->capture_default_str();
  fd_command.add_option("--eps-min", fd.eps_min, "Smallest ε")->check(CLI::PositiveNumber)->capture_default_str();
  fd_command.add_option("--points-per-decade", fd.points_per_decade, "ε values per decade")->check(CLI::Range(1, 20));

  static NormalizationCommand norm;
  auto& norm_command = add_experiment(*experiment, "normalization", "Training on raw vs standardized features", norm,
                                      run_normalization, exit_code);
  norm_command.add_option("--data", norm.data, "CSV of the breast-cancer form (default: the shipped one)")
      ->check(CLI::ExistingFile);
  norm_command.add_option("--hidden-dims", norm.hidden_dims, "Hidden layer sizes")->capture_default_str();
  norm_command.add_option("--target-loss", norm.target_loss, "Loss that counts as trained")->check(CLI::PositiveNumber);
  norm_command.add_option("--iterations", norm.iterations, "Most gradient-descent iterations")->check(CLI::PositiveNumber);
  norm_command.add_option("--learning-rates", norm.learning_rates, "Learning rates tried for each variant")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);

  static InitCommand init;
  auto& init_command = add_experiment(*experiment, "init", "Training curves of a deep network per init scheme", init,
                                      run_init, exit_code);
  init_command.add_option("--data", init.data, "CSV (.gz) of the digits form (default: the shipped one)")
      ->check(CLI::ExistingFile);
  init_command.add_option("--depth", init.depth, "Hidden layers")->check(CLI::PositiveNumber)->capture_default_str();
  init_command.add_option("--width", init.width, "Units per hidden layer")->check(CLI::PositiveNumber)->capture_default_str();
  init_command.add_option("--epochs", init.epochs, "Epochs")->check(CLI::PositiveNumber)->capture_default_str();
  init_command.add_option("--batch-size", init.batch_size, "Mini-batch size")->check(CLI::PositiveNumber);
  init_command.add_option("--learning-rate", init.learning_rate, "Learning rate")->check(CLI::PositiveNumber);
  init_command.add_option("--init-scale", init.init_scale, "Scale of the normal scheme")->check(CLI::NonNegativeNumber);
  init_command.add_option("--schemes", init.schemes, "Init schemes")->check(CLI::IsMember(enum_names<Init>()))->delimiter(',');
}

}  // namespace mlpkit::tool
