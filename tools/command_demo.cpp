// mlpkit demo: the README's main job, seconds long. Breast Cancer Wisconsin: split, standardize
// with the training statistics, train a small MLP, test accuracy, a parallel gradient check, then
// a short throughput table.
#include <chrono>
#include <cstdio>
#include <sstream>
#include <utility>

#include "commands.hpp"
#include "datasets.hpp"
#include "training_utils.hpp"

namespace mlpkit::tool {
namespace {

// Seconds per call of fn, timed over at least `budget` seconds.
template <class Fn>
double seconds_per_call(Fn&& fn, double budget = 0.15) {
  fn();  // warm-up: buffers, caches
  std::size_t calls = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < budget);
  return elapsed / static_cast<double>(calls);
}

std::string throughput_table() {
  std::ostringstream out;
  out << "Throughput, float, batch 256, " << num_threads() << " threads, ISA " << isa_name(current_isa()) << "\n"
      << "depth  width   forward GFLOP/s   training step GFLOP/s\n";
  const std::size_t m = 256;
  for (std::size_t depth : {2, 8}) {
    for (std::size_t width : {64, 256, 1024}) {
      MlpConfig<float> config;
      config.dims.assign(depth + 1, width);
      config.hidden = Activation::relu;
      config.output = Activation::identity;
      config.loss = Loss::mean_squared_error;
      Mlp<float> net(config);
      Matrix<float> x(width, m), y(width, m), yhat(width, m);
      for (std::size_t i = 0; i < width; ++i)
        for (std::size_t j = 0; j < m; ++j) x(i, j) = static_cast<float>((i * 7 + j * 3) % 11) * 0.1F - 0.5F;
      const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(depth * width * width);
      const double forward = seconds_per_call([&] { net.predict(x.view(), yhat.view()); });
      const double step = seconds_per_call([&] { net.forward_backward(x.view(), y.view()); });
      char line[96];
      std::snprintf(line, sizeof line, "%5zu  %5zu   %15.1f   %21.1f\n", depth, width, flops / forward / 1e9,
                    3 * flops / step / 1e9);
      out << line;
    }
  }
  return out.str();
}

std::string demo_text(std::uint64_t seed) {
  std::ostringstream out;
  out << "mlpkit " << version() << " demo — ISA " << isa_name(current_isa()) << " (detected " << isa_name(detected_isa()) << "), "
      << num_threads() << " threads\n\n";

  const auto path = find_data_file("breast_cancer.csv");
  const Dataset data = load_csv_dataset(path);
  Split split = split_dataset(data, 0.2, seed);
  out << "Breast Cancer Wisconsin: " << data.examples() << " examples × " << data.features() << " features; train "
      << split.train.examples() << ", test " << split.test.examples() << "\n";
  standardize_split(split);
  out << "Standardized with the training set's mean and variance (the test set reuses them).\n";

  MlpConfig<double> config;
  config.dims = {data.features(), 16, 8, 1};
  config.hidden = Activation::relu;
  config.output = Activation::sigmoid;
  config.loss = Loss::binary_cross_entropy;
  config.init = Init::he;
  config.l2 = 0.01;
  config.seed = seed;
  Mlp<double> net(config);
  const Matrix<double> y = targets(split.train, false);
  TrainOptions options;
  options.optimizer = Optimizer::adam;
  options.learning_rate = 0.01;
  options.epochs = 100;
  options.batch_size = 64;
  options.seed = seed;
  const auto start = std::chrono::steady_clock::now();
  const TrainResult trained = train(net, std::as_const(split.train.x).view(), y.view(), options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char line[200];
  std::snprintf(line, sizeof line,
                "Trained 30-16-8-1 (ReLU, sigmoid, BCE, He init, L2 0.01) with Adam: %zu updates in %.2f s, loss %.4f → "
                "%.4f\nTest accuracy %.1f %% (train %.1f %%)\n\n",
                trained.iterations, seconds, trained.epoch_loss.front(), trained.epoch_loss.back(),
                100 * accuracy(net, split.test), 100 * accuracy(net, split.train));
  out << line;

  // The gradient check runs on a batch of 32 training examples: backprop against finite differences.
  const std::size_t batch = 32;
  Matrix<double> xb(data.features(), batch), yb(1, batch);
  for (std::size_t j = 0; j < batch; ++j) {
    for (std::size_t i = 0; i < data.features(); ++i) xb(i, j) = split.train.x(i, j);
    yb(0, j) = y(0, j);
  }
  out << "Gradient check of the trained network (every parameter, parallel, ε = 1e-7):\n";
  out << gradcheck(net, xb.view(), yb.view()).to_text() << "\n";
  out << throughput_table();
  return out.str();
}

}  // namespace

void register_demo(CLI::App& app, int& exit_code) {
  static CommonOptions options;
  auto* command = app.add_subcommand("demo", "Train, check and time an MLP on the shipped breast-cancer data");
  add_common_options(*command, options);
  command->callback([&exit_code] {
    apply_common_options(options);
    emit(options, demo_text(options.seed));
    exit_code = 0;
  });
}

}  // namespace mlpkit::tool
