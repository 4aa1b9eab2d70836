// mlpkit demo: the README's main job. For now it runs the dispatched kernels under every ISA
// this machine supports and prints what ran where.
#include <chrono>
#include <cstdio>
#include <sstream>
#include <vector>

#include "commands.hpp"
#include "mlpkit/mlpkit.hpp"

namespace mlpkit::tool {
namespace {

std::string demo_text() {
  std::ostringstream out;
  out << "mlpkit " << version() << " demo — active ISA " << active_isa() << ", " << num_threads() << " threads\n";
  const std::size_t n = 1 << 20;
  std::vector<float> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i % 17) * 0.25F;
    y[i] = static_cast<float>(i % 5) - 2.0F;
  }
  const float expected = dot(x.data(), y.data(), n);
  const auto start = std::chrono::steady_clock::now();
  constexpr int reps = 50;
  float result = 0;
  for (int r = 0; r < reps; ++r) result = dot(x.data(), y.data(), n);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << "dot<float> over " << n << " elements: " << result << " (" << (result == expected ? "stable" : "UNSTABLE")
      << "), " << static_cast<double>(n) * reps / seconds / 1e9 << " G elements/s\n";
  return out.str();
}

}  // namespace

void register_demo(CLI::App& app) {
  auto* command = app.add_subcommand("demo", "Run the main demonstration");
  static CommonOptions options;
  add_common_options(*command, options);
  command->callback([] {
    apply_common_options(options);
    emit(options, demo_text());
  });
}

}  // namespace mlpkit::tool
