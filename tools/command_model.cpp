// mlpkit train / predict: a model from the user's CSV, saved as a model file with its input
// statistics; predictions of a model file on a CSV.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>

#include "commands.hpp"
#include "model_data.hpp"
#include "network_options.hpp"

namespace mlpkit::tool {
namespace {

struct TrainCommand {
  std::string data, target, out, dims = "16", hidden = "relu", task = "auto", dtype = "f64";
  bool standardize = false, json = false, quiet = false;
  std::size_t epochs = 200, batch_size = 32;
  double learning_rate = 0.01, test_fraction = 0.2, l2 = 0, progress_every = 1;
  int threads = 0;
  unsigned long long seed = 0;
};

// The columns `order[begin, end)` of x.
Matrix<double> take_columns(const Matrix<double>& x, const std::vector<std::size_t>& order, std::size_t begin, std::size_t end) {
  Matrix<double> out(x.rows(), end - begin);
  for (std::size_t i = 0; i < x.rows(); ++i)
    for (std::size_t c = begin; c < end; ++c) out(i, c - begin) = x(i, order[c]);
  return out;
}

// The network the target calls for: one output for regression and two classes (sigmoid + BCE),
// softmax + cross-entropy over the classes otherwise.
MlpConfig<double> train_config(const TrainCommand& cmd, const CsvTable& table, std::size_t target, std::size_t features) {
  const auto& values = table.columns[target];
  const auto not_class = std::find_if(values.begin(), values.end(), [](double v) { return !(v >= 0 && v == std::floor(v) && v < 1e6); });
  const bool classify = cmd.task == "classification" || (cmd.task == "auto" && not_class == values.end());
  if (cmd.task == "classification" && not_class != values.end())
    throw Error("mlpkit: " + cmd.data + ": row " + std::to_string(not_class - values.begin() + 1) + ", column '" + cmd.target +
                "': " + number_text(*not_class) + " is not a class (an integer ≥ 0)");
  const std::size_t classes = classify ? static_cast<std::size_t>(*std::max_element(values.begin(), values.end())) + 1 : 0;
  if (classify && classes < 2)
    throw Error("mlpkit: " + cmd.data + ": column '" + cmd.target + "' holds a single class; use --task regression");
  MlpConfig<double> config;
  config.dims = parse_dims(cmd.dims, "--dims", 1);
  config.dims.insert(config.dims.begin(), features);
  config.dims.push_back(classes > 2 ? classes : 1);
  config.hidden = parse_activation(cmd.hidden);
  config.loss = !classify ? Loss::mean_squared_error : classes > 2 ? Loss::cross_entropy : Loss::binary_cross_entropy;
  config.output = config.loss == Loss::binary_cross_entropy ? Activation::sigmoid : Activation::identity;
  config.init = Init::he;
  config.l2 = cmd.l2;
  config.seed = cmd.seed;
  validate_config(config);
  return config;
}

// Held-out accuracy (classification) or root-mean-square error (regression) of ŷ against y.
double held_out_metric(const MlpConfig<double>& config, const Matrix<double>& yhat, const Matrix<double>& y) {
  double sum = 0;
  for (std::size_t j = 0; j < y.cols(); ++j) {
    if (config.loss == Loss::mean_squared_error) {
      sum += (yhat(0, j) - y(0, j)) * (yhat(0, j) - y(0, j));
    } else if (config.loss == Loss::binary_cross_entropy) {
      sum += (yhat(0, j) >= 0.5) == (y(0, j) == 1) ? 1 : 0;
    } else {
      std::size_t predicted = 0, actual = 0;
      for (std::size_t i = 1; i < y.rows(); ++i) {
        if (yhat(i, j) > yhat(predicted, j)) predicted = i;
        if (y(i, j) > y(actual, j)) actual = i;
      }
      sum += predicted == actual ? 1 : 0;
    }
  }
  const double mean = y.cols() == 0 ? std::nan("") : sum / static_cast<double>(y.cols());
  return config.loss == Loss::mean_squared_error ? std::sqrt(mean) : mean;
}

// Progress of a long run on stderr: "epoch e/E: loss J (t s)" once every --progress-every seconds
// (the first once the run has lasted that long, and the last epoch when any was printed); none
// with --quiet or --json.
std::function<void(std::size_t, double)> progress_printer(const TrainCommand& cmd) {
  if (cmd.quiet || cmd.json) return {};
  const auto start = std::chrono::steady_clock::now();
  return [start, last = 0.0, printed = false, every = cmd.progress_every, total = cmd.epochs](std::size_t epoch, double loss) mutable {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed - last < every && !(printed && epoch == total)) return;
    std::fprintf(stderr, "epoch %zu/%zu: loss %.6g (%.1f s)\n", epoch, total, loss, elapsed);
    last = elapsed;
    printed = true;
  };
}

int run_train(const TrainCommand& cmd) {
  if (cmd.threads > 0) set_num_threads(cmd.threads);
  const CsvTable table = load_csv_table(cmd.data);
  const std::size_t target = table.column(cmd.target, cmd.data);
  std::vector<std::string> features;
  for (const auto& name : table.names)
    if (name != cmd.target) features.push_back(name);
  if (features.empty()) throw Error("mlpkit: " + cmd.data + ": no feature columns besides the target '" + cmd.target + "'");
  const MlpConfig<double> config = train_config(cmd, table, target, features.size());

  ModelFileInfo layout;
  layout.config = config;
  layout.user_metadata[kFeaturesKey] = feature_names_json(features);
  const Matrix<double> x = feature_matrix(table, cmd.data, layout);
  const Matrix<double> y = target_matrix(table, cmd.data, target, config);
  const std::vector<std::size_t> order = permutation(table.rows(), cmd.seed);
  const auto test_count = static_cast<std::size_t>(static_cast<double>(table.rows()) * cmd.test_fraction);
  if (test_count == table.rows()) throw CLI::ValidationError("--test-fraction", "leaves no example to train on");
  const Matrix<double> x_test = take_columns(x, order, 0, test_count), y_test = take_columns(y, order, 0, test_count);
  Matrix<double> x_train = take_columns(x, order, test_count, order.size());
  const Matrix<double> y_train = take_columns(y, order, test_count, order.size());

  std::optional<Standardizer<double>> inputs;
  if (cmd.standardize) {  // the training statistics, saved with the model and applied by its predict
    inputs.emplace();
    inputs->fit(x_train.view());
    inputs->transform(x_train.view(), x_train.view());
  }
  Mlp<double> net(config);
  TrainOptions options;
  options.optimizer = Optimizer::adam;
  options.learning_rate = cmd.learning_rate;
  options.epochs = cmd.epochs;
  options.batch_size = cmd.batch_size;
  options.seed = cmd.seed;
  options.on_epoch = progress_printer(cmd);
  const TrainResult result = train(net, x_train.view(), y_train.view(), options);

  Model<double> model(std::move(net), std::move(inputs));
  model.user_metadata[kTargetKey] = cmd.target;
  model.user_metadata[kFeaturesKey] = layout.user_metadata[kFeaturesKey];
  const bool regression = config.loss == Loss::mean_squared_error;
  const double metric = held_out_metric(config, model.predict(x_test.view()), y_test);
  if (cmd.dtype == "f32")
    Model<float>(model).save(cmd.out);
  else
    model.save(cmd.out);

  std::string dims;
  for (std::size_t d : config.dims) dims += (dims.empty() ? "" : ",") + std::to_string(d);
  const char* metric_name = regression ? "rmse" : "accuracy";
  if (cmd.json) {
    nlohmann::json report = {{"task", regression ? "regression" : "classification"}, {"dims", config.dims},
                             {"hidden", activation_name(config.hidden)}, {"loss", loss_name(config.loss)},
                             {"train_examples", x_train.cols()}, {"test_examples", x_test.cols()},
                             {"final_loss", result.epoch_loss.back()}, {"metric", metric_name},
                             {"value", x_test.cols() == 0 ? nlohmann::json() : nlohmann::json(metric)},
                             {"standardized", cmd.standardize}, {"dtype", cmd.dtype == "f32" ? "F32" : "F64"},
                             {"model", cmd.out}};
    std::cout << report.dump(1) << "\n";
  } else {
    std::cout << "trained " << dims << " (" << activation_name(config.hidden) << " hidden, " << loss_name(config.loss)
              << ") on " << x_train.cols() << " examples, " << options.epochs << " epochs: final loss "
              << result.epoch_loss.back() << "\n"
              << "held-out " << metric_name << " on " << x_test.cols() << " examples: "
              << (x_test.cols() == 0 ? std::string("n/a") : number_text(metric)) << "\n"
              << "saved " << cmd.out << (cmd.standardize ? " with the training statistics of the inputs" : "") << "\n";
  }
  return 0;
}

struct PredictCommand {
  CommonOptions common;
  std::string model, data;
  bool allow_nonfinite = false;
};

// ŷ of the model file on x, computed in the file's precision.
template <class T>
Matrix<double> predict_in(const std::string& path, const Matrix<double>& x, const ModelLoadOptions& options) {
  const Model<T> model = load_model<T>(path, options);
  Matrix<T> input(x.rows(), x.cols());
  for (std::size_t i = 0; i < x.rows(); ++i)
    for (std::size_t j = 0; j < x.cols(); ++j) input(i, j) = static_cast<T>(x(i, j));
  const Matrix<T> yhat = model.predict(input.view());
  Matrix<double> out(yhat.rows(), yhat.cols());
  for (std::size_t i = 0; i < yhat.rows(); ++i)
    for (std::size_t j = 0; j < yhat.cols(); ++j) out(i, j) = static_cast<double>(yhat(i, j));
  return out;
}

int run_predict(const PredictCommand& cmd) {
  apply_common_options(cmd.common);
  const ModelFileInfo info = model_file_info(cmd.model);
  const Matrix<double> x = feature_matrix(load_csv_table(cmd.data), cmd.data, info);
  ModelLoadOptions options;
  options.allow_nonfinite = cmd.allow_nonfinite;
  const Matrix<double> yhat = info.dtype == "F32" ? predict_in<float>(cmd.model, x, options) : predict_in<double>(cmd.model, x, options);
  const auto target = info.user_metadata.find(kTargetKey);
  const std::string name = target != info.user_metadata.end() ? target->second : "prediction";
  // Columns: the predicted value or class, then the class probabilities.
  const Loss loss = info.config.loss;
  const bool single = yhat.rows() == 1, classes = loss != Loss::mean_squared_error && !info.config.multi_label;
  std::vector<std::string> columns;
  if (classes || single) columns.push_back(name);
  if (!single || classes)
    for (std::size_t i = 0; i < yhat.rows(); ++i)
      columns.push_back(single ? std::string("probability") : (classes ? "p_" : name + "_") + std::to_string(i));
  std::vector<std::vector<double>> rows(yhat.cols());
  for (std::size_t j = 0; j < yhat.cols(); ++j) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < yhat.rows(); ++i) best = yhat(i, j) > yhat(best, j) ? i : best;
    if (classes) rows[j].push_back(single ? (yhat(0, j) >= 0.5 ? 1.0 : 0.0) : static_cast<double>(best));
    for (std::size_t i = 0; i < yhat.rows(); ++i) rows[j].push_back(yhat(i, j));
  }
  std::ostringstream text;
  if (cmd.common.json) {
    text << nlohmann::json({{"columns", columns}, {"rows", rows}}).dump() << "\n";
  } else {
    for (std::size_t c = 0; c < columns.size(); ++c) text << (c ? "," : "") << columns[c];
    text << "\n";
    for (const auto& row : rows) {
      for (std::size_t c = 0; c < row.size(); ++c) text << (c ? "," : "") << number_text(row[c]);
      text << "\n";
    }
  }
  emit(cmd.common, text.str());
  return 0;
}

}  // namespace

void register_train(CLI::App& app, int& exit_code) {
  static TrainCommand cmd;
  auto* command = app.add_subcommand("train", "Train an MLP on a CSV (header line, numeric cells) and save it as a model file");
  command->add_option("--data", cmd.data, "CSV file with a header line")->required();
  command->add_option("--target", cmd.target, "Column to predict")->required();
  command->add_option("--out", cmd.out, "Model file to write (.safetensors)")->required();
  command->add_option("--dims", cmd.dims, "Hidden layer widths, e.g. 32,16")->capture_default_str();
  command->add_option("--hidden", cmd.hidden, "Hidden activation")->check(CLI::IsMember(enum_names<Activation>()))->capture_default_str();
  command->add_option("--task", cmd.task, "auto (integer target: classification), classification or regression")
      ->check(CLI::IsMember({"auto", "classification", "regression"}))
      ->capture_default_str();
  command->add_flag("--standardize", cmd.standardize, "Standardize the inputs with the training statistics (saved with the model)");
  command->add_option("--epochs", cmd.epochs, "Passes over the training examples")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--batch-size", cmd.batch_size, "Examples per update")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--learning-rate", cmd.learning_rate, "Adam's step size")->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--l2", cmd.l2, "L2 regularization λ ≥ 0")->check(CLI::NonNegativeNumber);
  command->add_option("--test-fraction", cmd.test_fraction, "Share of the rows held out for the reported metric")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--dtype", cmd.dtype, "Precision of the saved weights: f32 or f64")
      ->check(CLI::IsMember({"f32", "f64"}))
      ->capture_default_str();
  command->add_option("--threads", cmd.threads, "Threads the kernels use")->check(CLI::PositiveNumber);
  command->add_option("--seed", cmd.seed, "Seed of the split, the initialization and the shuffles");
  command->add_flag("--json", cmd.json, "Print the report as JSON (no progress lines)");
  command->add_flag("--quiet", cmd.quiet, "No progress lines on stderr");
  command->add_option("--progress-every", cmd.progress_every, "Seconds between progress lines on stderr (0: every epoch)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->callback([&exit_code] { exit_code = run_train(cmd); });
}

void register_predict(CLI::App& app, int& exit_code) {
  static PredictCommand cmd;
  auto* command = app.add_subcommand("predict", "Predictions of a model file on a CSV, as CSV");
  add_common_options(*command, cmd.common);
  command->add_option("--model", cmd.model, "Model file (.safetensors, or .onnx exported from another framework)")->required();
  command->add_option("--data", cmd.data, "CSV with a header line holding the model's feature columns")->required();
  command->add_flag("--allow-nonfinite", cmd.allow_nonfinite, "Accept NaN or Inf in the weights");
  command->callback([&exit_code] { exit_code = run_predict(cmd); });
}

}  // namespace mlpkit::tool
