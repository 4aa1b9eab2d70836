// Weight initialization: every weight a pure function of (seed, layer, index).
#include <cmath>
#include <limits>
#include <string>

#include "mlpkit/init.hpp"
#include "model/random.hpp"
#include "runtime/checks.hpp"
#include "runtime/threads.hpp"

namespace mlpkit {

std::string_view init_name(Init init) { return detail::enum_name("init_name", "init", init); }

Init parse_init(std::string_view name) {
  if (const auto init = detail::find_enum<Init>(name)) return *init;
  detail::fail("parse_init", "unknown init scheme '", name, "' (accepted: ", detail::enum_names_list<Init>(), ")");
}

double init_stddev(Init init, std::size_t n_in, std::size_t n_out, double init_scale) {
  detail::check_enum("init_stddev", "init", init);
  if (n_in == 0 || n_out == 0) detail::fail("init_stddev", "layer is ", n_out, " × ", n_in, " but must not be empty");
  if (!(init_scale >= 0) || !std::isfinite(init_scale))
    detail::fail("init_stddev", "init_scale (", init_scale, ") must be finite and ≥ 0");
  const auto in = static_cast<double>(n_in), out = static_cast<double>(n_out);
  switch (init) {
    case Init::zeros: return 0.0;
    case Init::normal: return init_scale;
    case Init::lecun: return std::sqrt(1.0 / in);
    case Init::xavier:
    case Init::xavier_uniform: return std::sqrt(2.0 / (in + out));
    case Init::he: return std::sqrt(2.0 / in);
  }
  return 0.0;  // unreachable: check_enum rejected every other value
}

template <class T>
void init_weights(Init init, T init_scale, std::uint64_t seed, std::size_t layer, MatrixView<T> w) {
  detail::check_enum("init_weights", "init", init);
  detail::check_view("init_weights", "w", w);
  if (w.empty()) detail::fail("init_weights", "w is ", w.rows, " × ", w.cols, " but must not be empty");
  if (layer > std::numeric_limits<std::uint32_t>::max())
    detail::fail("init_weights", "layer (", layer, ") exceeds 2^32 − 1");
  if (!(init_scale >= T(0)) || !std::isfinite(init_scale))  // checked here too, so the message names init_weights
    detail::fail("init_weights", "init_scale (", init_scale, ") must be finite and ≥ 0");
  const double stddev = init_stddev(init, w.cols, w.rows, static_cast<double>(init_scale));
  const auto layer32 = static_cast<std::uint32_t>(layer);
  const std::size_t n_in = w.cols;
  // Rows are independent outputs; each element draws from its own counter, so any split is exact.
  detail::parallel_for(w.rows, 60.0 * static_cast<double>(n_in), [&](std::size_t i) {
    T* row = w.row(i);
    const std::uint64_t first = static_cast<std::uint64_t>(i) * n_in;
    if (init == Init::zeros) {
      for (std::size_t j = 0; j < n_in; ++j) row[j] = T(0);
    } else if (init == Init::xavier_uniform) {
      const double bound = std::sqrt(3.0) * stddev;  // U(−a, a) has variance a²/3
      for (std::size_t j = 0; j < n_in; ++j)
        row[j] = static_cast<T>(bound * (2.0 * detail::init_uniform(seed, layer32, first + j) - 1.0));
    } else {
      for (std::size_t j = 0; j < n_in; ++j) {
        const std::uint64_t index = first + j;
        const auto pair = detail::init_normal_pair(seed, layer32, index / 2);
        row[j] = static_cast<T>(stddev * pair[index % 2]);
        if (index % 2 == 0 && j + 1 < n_in) row[++j] = static_cast<T>(stddev * pair[1]);
      }
    }
  });
}

template void init_weights<float>(Init, float, std::uint64_t, std::size_t, MatrixView<float>);
template void init_weights<double>(Init, double, std::uint64_t, std::size_t, MatrixView<double>);

}  // namespace mlpkit
