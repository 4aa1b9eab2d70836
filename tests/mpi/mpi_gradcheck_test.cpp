// The MPI gradcheck and check_vjp under mpirun: every rank compares the sharded report with the single-process
// one it computes itself (to_json() and every per-parameter array, bitwise), and checks that errors
// are collective. Exit status 0 only when every check passed on every rank.
//   mlpkit_mpi_tests consistent    same input everywhere: reports equal; a J that throws or is not
//                                  finite on one rank's block ends in the same Error on all ranks
//   mlpkit_mpi_tests inconsistent  rank 1 gets other θ / x / options / f: an Error on every rank
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "mlpkit/mlpkit.hpp"
#include "mlpkit/mpi.hpp"

namespace {

using namespace mlpkit;

int rank = 0, ranks = 1, failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
  }
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

void expect_same(const GradcheckReport& sharded, const GradcheckReport& single, const std::string& what) {
  expect(sharded.to_json() == single.to_json(), what + ": to_json differs");
  expect(same_bits(sharded.numeric_gradient, single.numeric_gradient), what + ": numeric_gradient differs");
  expect(same_bits(sharded.directional_numeric, single.directional_numeric), what + ": directional_numeric differs");
  expect(sharded.evaluations == single.evaluations && sharded.checked == single.checked &&
             sharded.coverage == single.coverage && sharded.cancelled == single.cancelled,
         what + ": evaluations, checked, coverage or cancelled differ");
}

/** Runs body, which must throw mlpkit::Error on every rank with a message containing `needle`. */
template <class Body>
void expect_collective_error(Body&& body, const std::string& needle, const std::string& what) {
  std::string message;
  try {
    body();
  } catch (const Error& e) {
    message = e.what();
  } catch (const std::exception& e) {
    expect(false, what + ": threw a non-mlpkit exception: " + e.what());
    return;
  }
  expect(!message.empty(), what + ": no mlpkit::Error");
  expect(message.find(needle) != std::string::npos, what + ": message '" + message + "' lacks '" + needle + "'");
}

struct Problem {
  Mlp<double> net;
  Matrix<double> x, y;
};

Problem make_problem(Activation hidden, double keep_prob) {
  MlpConfig<double> config;
  config.dims = {6, 9, 7, 2};
  config.hidden = hidden;
  config.output = Activation::sigmoid;
  config.loss = Loss::binary_cross_entropy;
  config.multi_label = true;
  config.init = Init::xavier;
  config.l2 = 0.2;
  config.keep_prob = keep_prob;
  config.seed = 7;
  Problem p{Mlp<double>(config), Matrix<double>(6, 5), Matrix<double>(2, 5)};
  for (std::size_t r = 0; r < 6; ++r)
    for (std::size_t c = 0; c < 5; ++c) p.x(r, c) = std::sin(static_cast<double>(3 * r + 7 * c + 1));
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t c = 0; c < 5; ++c) p.y(r, c) = (r + c) % 2 == 0 ? 1.0 : 0.0;
  return p;
}

double rosenbrock_like(std::span<const double> t) {
  double j = 0;
  for (std::size_t i = 0; i + 1 < t.size(); ++i) j += 100 * std::pow(t[i + 1] - t[i] * t[i], 2) + std::pow(1 - t[i], 2);
  return j;
}

std::vector<double> rosenbrock_gradient(const std::vector<double>& t) {
  std::vector<double> g(t.size(), 0.0);
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    g[i] += -400 * t[i] * (t[i + 1] - t[i] * t[i]) - 2 * (1 - t[i]);
    g[i + 1] += 200 * (t[i + 1] - t[i] * t[i]);
  }
  return g;
}

void consistent() {
  // Ranks may use different thread counts: results never depend on them.
  const int threads = 1 + rank % 2;
  for (const Activation hidden : {Activation::relu, Activation::tanh})
    for (const double keep_prob : {1.0, 0.8})
      for (const GradcheckMode mode : enum_values<GradcheckMode>())
        for (const GradcheckEvaluator evaluator : {GradcheckEvaluator::incremental, GradcheckEvaluator::naive}) {
          const Problem p = make_problem(hidden, keep_prob);
          GradcheckOptions options;
          options.mode = mode;
          options.evaluator = evaluator;
          options.samples_per_tensor = 7;
          options.threads = threads;
          const std::string what = "Mlp mode " + std::string(gradcheck_mode_name(mode)) + " hidden " +
                                   std::to_string(static_cast<int>(hidden)) + " keep " + std::to_string(keep_prob) +
                                   (evaluator == GradcheckEvaluator::naive ? " naive" : " incremental");
          const GradcheckReport single = gradcheck(p.net, p.x.view(), p.y.view(), options);
          expect_same(gradcheck(MPI_COMM_WORLD, p.net, p.x.view(), p.y.view(), options), single, what);
        }

  {  // check_vjp: a layer-like f: R⁶ → R³ and its vector–Jacobian product, right and with a bug in
     // the "b" slice, under every difference scheme and both loop modes
    const std::vector<double> x{0.3, -0.7, 1.1, 0.5, -0.2, 0.9};
    const std::vector<TensorInfo> layout{{"w", 0, 2, 2}, {"b", 4, 2, 1}};
    const VectorFunction f = [](std::span<const double> v) {
      return std::vector<double>{std::tanh(v[0] * v[1] + v[4]), v[2] * v[3] * v[5], std::sin(v[0] + v[2]) + v[4] * v[5]};
    };
    for (const bool bug : {false, true}) {
      const VjpFunction vjp = [bug](std::span<const double> v, std::span<const double> u) {
        const double t = std::tanh(v[0] * v[1] + v[4]), s = 1 - t * t, c = std::cos(v[0] + v[2]);
        std::vector<double> g{u[0] * s * v[1] + u[2] * c, u[0] * s * v[0], u[1] * v[3] * v[5] + u[2] * c,
                              u[1] * v[2] * v[5], u[0] * s + u[2] * v[5], u[1] * v[2] * v[3] + u[2] * v[4]};
        if (bug) g[5] *= -1;
        return g;
      };
      for (const DifferenceScheme scheme : enum_values<DifferenceScheme>())
        for (const GradcheckMode mode : {GradcheckMode::full, GradcheckMode::sampled}) {
          GradcheckOptions options;
          options.scheme = scheme;
          options.mode = mode;
          options.samples_per_tensor = 3;
          options.threads = threads;
          const std::string what = std::string("check_vjp ") + (bug ? "with a bug" : "right") + " scheme " +
                                   std::to_string(static_cast<int>(scheme)) + " mode " + std::string(gradcheck_mode_name(mode));
          const GradcheckReport single = check_vjp(f, x, vjp, layout, options);
          expect((single.verdict == Verdict::wrong) == bug, what + ": the single-process verdict");
          expect_same(check_vjp(MPI_COMM_WORLD, f, x, vjp, layout, options), single, what);
        }
    }
  }

  {  // a user-computed gradient with a bug in one tensor: the same fingerprinted report
    const Problem p = make_problem(Activation::relu, 1.0);
    Mlp<double> copy = p.net;
    copy.forward_backward(p.x.view(), p.y.view());
    std::vector<double> analytic(copy.gradients().begin(), copy.gradients().end());
    const TensorInfo w2 = p.net.tensors()[2];
    for (std::size_t i = 0; i < w2.rows * w2.cols; ++i) analytic[w2.offset + i] *= -1;
    const GradcheckReport single = gradcheck(p.net, p.x.view(), p.y.view(), analytic);
    expect(single.verdict == Verdict::wrong, "the injected bug is found");
    expect_same(gradcheck(MPI_COMM_WORLD, p.net, p.x.view(), p.y.view(), analytic), single, "Mlp with a buggy dθ");
  }

  std::vector<double> theta(41);
  for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = 0.5 * std::cos(static_cast<double>(i));
  const std::vector<double> gradient = rosenbrock_gradient(theta);
  const std::vector<TensorInfo> layout = {{"A", 3, 4, 5}, {"b", 25, 6, 1}};
  for (const GradcheckMode mode : enum_values<GradcheckMode>())
    for (const bool with_layout : {false, true}) {
      GradcheckOptions options;
      options.mode = mode;
      options.samples_per_tensor = 5;
      const std::span<const TensorInfo> l = with_layout ? std::span<const TensorInfo>(layout) : std::span<const TensorInfo>{};
      const GradcheckReport single = gradcheck(rosenbrock_like, theta, gradient, l, options);
      expect_same(gradcheck(MPI_COMM_WORLD, rosenbrock_like, theta, gradient, l, options), single,
                  "generic mode " + std::string(gradcheck_mode_name(mode)) + (with_layout ? " with layout" : ""));
    }

  {  // progress: each rank sees its own block; without cancel the report is the single-process one
    std::size_t last_done = 0, last_total = 0;
    GradcheckOptions options;
    options.progress = [&](std::size_t done, std::size_t total) {
      last_done = done;
      last_total = total;
      return true;
    };
    const GradcheckReport single = gradcheck(rosenbrock_like, theta, gradient, {}, GradcheckOptions{});
    expect_same(gradcheck(MPI_COMM_WORLD, rosenbrock_like, theta, gradient, {}, options), single, "with progress");
    expect(last_done == last_total && last_total <= theta.size(), "progress ends at the end of the block");
  }

  {  // cancel on rank 0 only: every rank returns the same report, which says cancelled
    GradcheckOptions options;
    options.progress = [&](std::size_t, std::size_t) { return rank != 0; };
    const GradcheckReport report = gradcheck(MPI_COMM_WORLD, rosenbrock_like, theta, gradient, {}, options);
    expect(report.cancelled && report.checked < theta.size(), "a cancel on rank 0 makes the report cancelled");
    const std::string json = report.to_json();
    unsigned long long length = json.size();
    MPI_Bcast(&length, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    std::string first(static_cast<std::size_t>(length), '\0');
    if (rank == 0) first = json;
    MPI_Bcast(first.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD);
    expect(json == first, "a cancelled report is the same on every rank");
  }

  // An exception thrown by f, or a non-finite J, inside the block of the rank that owns the last
  // parameter: every rank throws an Error carrying that message.
  const std::size_t last = theta.size() - 1;
  expect_collective_error(
      [&] {
        auto f = [&](std::span<const double> t) {
          if (t[last] != theta[last]) throw std::runtime_error("f refuses to move the last parameter");
          return rosenbrock_like(t);
        };
        gradcheck(MPI_COMM_WORLD, f, theta, gradient);
      },
      "f refuses to move the last parameter (on rank " + std::to_string(ranks - 1), "an exception from f");
  expect_collective_error(
      [&] {
        auto f = [&](std::span<const double> t) { return t[last] != theta[last] ? NAN : rosenbrock_like(t); };
        gradcheck(MPI_COMM_WORLD, f, theta, gradient);
      },
      "parameter index " + std::to_string(last), "a non-finite J");
}

void inconsistent() {
  if (ranks < 2) return;
  const Problem p = make_problem(Activation::relu, 1.0);
  {
    Mlp<double> net = p.net;
    if (rank == 1) net.parameters()[3] += 1e-3;
    expect_collective_error([&] { gradcheck(MPI_COMM_WORLD, net, p.x.view(), p.y.view()); },
                            "on rank 1 differs from rank 0", "a perturbed θ on rank 1");
  }
  {
    Matrix<double> x = p.x;
    if (rank == ranks - 1) x(2, 3) = 0.25;
    expect_collective_error([&] { gradcheck(MPI_COMM_WORLD, p.net, x.view(), p.y.view()); },
                            "x on rank " + std::to_string(ranks - 1), "another x on the last rank");
  }
  {
    GradcheckOptions options;
    if (rank == 1) options.eps = 2e-7;
    expect_collective_error([&] { gradcheck(MPI_COMM_WORLD, p.net, p.x.view(), p.y.view(), options); },
                            "the options on rank 1", "other options on rank 1");
  }
  {
    Matrix<double> x(rank == 1 ? 5 : 6, 5);  // a shape only rank 1 gets wrong: its own error, everywhere
    for (std::size_t r = 0; r < x.rows(); ++r)
      for (std::size_t c = 0; c < 5; ++c) x(r, c) = p.x(r, c);
    expect_collective_error([&] { gradcheck(MPI_COMM_WORLD, p.net, x.view(), p.y.view()); }, "(on rank 1 of",
                            "a bad x on rank 1");
  }
  {
    std::vector<double> theta(12, 0.3);
    const std::vector<double> gradient = rosenbrock_gradient(theta);
    auto f = [&](std::span<const double> t) { return rosenbrock_like(t) + (rank == 1 ? 1.0 : 0.0); };
    expect_collective_error([&] { gradcheck(MPI_COMM_WORLD, f, theta, gradient); }, "J(θ) on rank 1",
                            "another f on rank 1");
  }
  {
    const std::vector<double> x{0.3, -0.7, 1.1};
    const VectorFunction f = [](std::span<const double> v) { return std::vector<double>{v[0] * v[1], v[2] * v[2]}; };
    const VjpFunction vjp = [](std::span<const double> v, std::span<const double> u) {
      return std::vector<double>{u[0] * v[1] + (rank == 1 ? 1.0 : 0.0), u[0] * v[0], 2 * u[1] * v[2]};
    };
    expect_collective_error([&] { check_vjp(MPI_COMM_WORLD, f, x, vjp); }, "the vector-Jacobian products on rank 1",
                            "another vjp on rank 1");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const std::string mode = argc > 1 ? argv[1] : "consistent";
  try {
    if (mode == "consistent")
      consistent();
    else if (mode == "inconsistent")
      inconsistent();
    else
      expect(false, "unknown mode '" + mode + "'");
  } catch (const std::exception& e) {
    expect(false, std::string("unexpected exception: ") + e.what());
  }
  int total = 0;
  MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::printf("mlpkit_mpi_tests %s on %d ranks: %d failure(s)\n", mode.c_str(), ranks, total);
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}
