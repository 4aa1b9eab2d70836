// mlpkit gradcheck: check the backpropagation of an MLP described by flags, optionally with an
// injected bug, and print the report. Exit status 1 when the verdict is `wrong`.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "commands.hpp"
#include "model_data.hpp"
#include "network_options.hpp"
#ifdef MLPKIT_WITH_MPI
#include "mlpkit/mpi.hpp"
#endif

namespace mlpkit::tool {
namespace {

struct GradcheckCommand {
  CommonOptions common;
  NetworkOptions network;
  std::string mode = "full";
  double eps = 1e-7;
  std::string inject_bug = "none";
  std::string bug_tensor;  // empty: W of the middle layer
  std::size_t samples = 24;
  std::size_t directions = 8;
  double detection_probability = 0;
  std::size_t taylor_steps = 16;
  bool progress = true;
  bool mpi = false;  // --mpi: sharded over MPI_COMM_WORLD (only in a build with MLPKIT_WITH_MPI)
  std::string model, data, target;  // --model FILE --data FILE.csv: a saved model on the user's examples
  bool allow_nonfinite = false;
};

// What is checked: a network and the examples J is evaluated on.
struct Problem {
  Mlp<double> net;
  Matrix<double> x, y;
};

// A network described by the flags on a synthetic batch.
Problem flag_problem(const GradcheckCommand& cmd) {
  MlpConfig<double> config = network_config(cmd.network, cmd.common.seed);
  if (cmd.inject_bug == "l2" && config.l2 == 0) config.l2 = 0.7;  // the bug needs an L2 term to leave out
  Problem problem{Mlp<double>(config), {}, {}};
  synthetic_batch(config, cmd.network.batch, cmd.common.seed + 1, problem.x, problem.y);
  return problem;
}

// A model file (in double whatever its dtype) on the rows of a CSV, standardized as its predict does.
Problem model_problem(const GradcheckCommand& cmd) {
  if (cmd.data.empty()) throw CLI::ValidationError("--data", "--model needs --data FILE.csv (the examples to check on)");
  const ModelFileInfo info = model_file_info(cmd.model);
  ModelLoadOptions options;
  options.allow_nonfinite = cmd.allow_nonfinite;
  options.convert_precision = true;
  const Model<double> model = load_model<double>(cmd.model, options);
  const CsvTable table = load_csv_table(cmd.data);
  std::string target = cmd.target;
  if (const auto stored = info.user_metadata.find(kTargetKey); target.empty() && stored != info.user_metadata.end())
    target = stored->second;
  if (target.empty()) throw CLI::ValidationError("--target", "the model names no target column: give --target COLUMN");
  ModelFileInfo layout = info;  // a model without stored feature names (ONNX) takes every column but the target
  layout.user_metadata.emplace(kTargetKey, target);
  Problem problem{model.network(), feature_matrix(table, cmd.data, layout), {}};
  if (model.inputs()) model.inputs()->transform(problem.x.view(), problem.x.view());
  problem.y = target_matrix(table, cmd.data, table.column(target, cmd.data), info.config);
  return problem;
}

// Sign flip or transposition of one tensor of the analytic gradient, as a buggy backward pass would produce.
void inject(const std::string& bug, const std::string& tensor_name, const Mlp<double>& net, std::vector<double>& g) {
  const auto tensors = net.tensors();
  const TensorInfo* target = nullptr;
  for (const auto& t : tensors)
    if (t.name == tensor_name) target = &t;
  if (target == nullptr) throw CLI::ValidationError("--bug-tensor", "no tensor '" + tensor_name + "' in this network");
  const std::size_t size = target->rows * target->cols;
  if (bug == "sign") {
    for (std::size_t i = 0; i < size; ++i) g[target->offset + i] = -g[target->offset + i];
  } else if (bug == "transpose") {
    std::vector<double> original(g.begin() + static_cast<std::ptrdiff_t>(target->offset),
                                 g.begin() + static_cast<std::ptrdiff_t>(target->offset + size));
    for (std::size_t r = 0; r < target->rows; ++r)
      for (std::size_t c = 0; c < target->cols; ++c) g[target->offset + c * target->rows + r] = original[r * target->cols + c];
  }
}

int run(GradcheckCommand& cmd) {
  apply_common_options(cmd.common);
  Problem problem = cmd.model.empty() ? flag_problem(cmd) : model_problem(cmd);
  Mlp<double>& net = problem.net;
  const MlpConfig<double>& config = net.config();
  const Matrix<double>& x = problem.x;
  const Matrix<double>& y = problem.y;
  net.forward_backward(x.view(), y.view());
  std::vector<double> analytic(net.gradients().begin(), net.gradients().end());

  const std::size_t layers = net.layers();
  const std::string tensor = cmd.bug_tensor.empty() ? "W" + std::to_string(layers / 2 + 1) : cmd.bug_tensor;
  const double m = static_cast<double>(x.cols());
  if (cmd.inject_bug == "sign" || cmd.inject_bug == "transpose") {
    inject(cmd.inject_bug, tensor, net, analytic);
  } else if (cmd.inject_bug == "scale") {  // the 1/m average forgotten in one tensor
    for (const auto& t : net.tensors())
      if (t.name == tensor)
        for (std::size_t i = 0; i < t.rows * t.cols; ++i) analytic[t.offset + i] *= m;
  } else if (cmd.inject_bug == "l2") {  // dW without (λ/m)·W, in every layer
    const auto theta = net.parameters();
    for (const auto& t : net.tensors())
      if (t.name.front() == 'W')
        for (std::size_t i = 0; i < t.rows * t.cols; ++i) analytic[t.offset + i] -= config.l2 / m * theta[t.offset + i];
  }

  GradcheckOptions options;
  options.eps = cmd.eps;
  options.seed = cmd.common.seed;
  options.samples_per_tensor = cmd.samples;
  options.directions = cmd.directions;
  options.detection_probability = cmd.detection_probability;
  options.taylor_steps = cmd.taylor_steps;
  options.mode = enum_from_name<GradcheckMode>(cmd.mode, "--mode");
  // Under --mpi every rank computes the same report; only rank 0 draws (its own block) and prints.
  const bool printing = !cmd.mpi || mpi_rank() == 0;
  // A progress bar on stderr, only on a terminal and only once the check has run a second.
  const auto start = std::chrono::steady_clock::now();
  const bool terminal = printing && cmd.progress && isatty(STDERR_FILENO) != 0;
  bool drew = false;
  if (terminal) {
    options.progress = [&](std::size_t done, std::size_t total) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (elapsed < 1.0 || total == 0) return true;
      const int width = 40;
      const auto filled = static_cast<int>(static_cast<double>(width) * static_cast<double>(done) / static_cast<double>(total));
      std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(static_cast<std::size_t>(filled), '#').c_str(),
                   std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), done, total);
      drew = true;
      return true;
    };
  }
#ifdef MLPKIT_WITH_MPI
  const GradcheckReport report = cmd.mpi ? gradcheck(MPI_COMM_WORLD, net, x.view(), y.view(), analytic, options)
                                         : gradcheck(net, x.view(), y.view(), analytic, options);
#else
  const GradcheckReport report = gradcheck(net, x.view(), y.view(), analytic, options);
#endif
  if (drew) std::fprintf(stderr, "\r%*s\r", 60, "");
  if (printing) emit(cmd.common, cmd.common.json ? report.to_json() + "\n" : report.to_text());
  return report.verdict == Verdict::wrong ? 1 : 0;
}

}  // namespace

void register_gradcheck(CLI::App& app, int& exit_code) {
  static GradcheckCommand cmd;
  auto* command = app.add_subcommand("gradcheck", "Check an MLP's backpropagation against finite differences");
  add_common_options(*command, cmd.common);
  add_network_options(*command, cmd.network);
  command->add_option("--mode", cmd.mode, "Which entries are checked: " + joined(enum_names<GradcheckMode>()))
      ->check(CLI::IsMember(enum_names<GradcheckMode>()))
      ->capture_default_str();
  command->add_option("--eps", cmd.eps, "Finite-difference step ε > 0")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--inject-bug", cmd.inject_bug,
                      "Demonstrate the report on a buggy gradient: none, sign, scale (missing 1/m), l2 (missing L2 "
                      "derivative), transpose")
      ->check(CLI::IsMember({"none", "sign", "scale", "l2", "transpose"}))
      ->capture_default_str();
  command->add_option("--bug-tensor", cmd.bug_tensor, "Tensor the bug goes into (default: W of the middle layer)");
  command->add_option("--samples", cmd.samples, "Entries per tensor in sampled mode")->check(CLI::PositiveNumber);
  command->add_option("--directions", cmd.directions, "Directions in directional mode")->check(CLI::PositiveNumber);
  command->add_option("--detection-probability", cmd.detection_probability,
                      "Sampled mode: sample each tensor so that an error on 1 % of its entries is hit with this "
                      "probability, in (0, 1) (instead of --samples)");
  command->add_option("--taylor-steps", cmd.taylor_steps,
                      "Directional mode: steps of the Taylor-remainder test (0: none, else 4 to 64)");
  command->add_flag("!--no-progress", cmd.progress, "No progress bar");
  command->add_option("--model", cmd.model, "Check a saved model (.safetensors or .onnx) instead of one described by flags");
  command->add_option("--data", cmd.data, "With --model: CSV of the examples to check on (header line, the model's columns)");
  command->add_option("--target", cmd.target, "With --model: the target column (default: the one the model was trained on)");
  command->add_flag("--allow-nonfinite", cmd.allow_nonfinite, "With --model: accept NaN or Inf in the weights");
#ifdef MLPKIT_WITH_MPI
  command->add_flag("--mpi", cmd.mpi,
                    "Shard the check over the ranks of MPI_COMM_WORLD (run under mpirun; only rank 0 prints)");
#endif
  command->callback([&exit_code] {
    if (cmd.mpi) init_mpi();
    exit_code = run(cmd);
  });
}

}  // namespace mlpkit::tool
