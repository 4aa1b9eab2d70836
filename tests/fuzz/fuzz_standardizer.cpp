// Fuzzes Standardizer: from_json and load of arbitrary bytes (must either succeed and round-trip
// bitwise, or throw mlpkit::Error: never crash, never UB, never another exception type), and
// fit / partial_fit / transform / inverse_transform on arbitrary data (large offsets, constant
// features, non-finite values) against a long double reference, across ISAs and thread counts.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "mlpkit/normalization.hpp"

using namespace mlpkit;
using namespace mlpkit::fuzz;

namespace {

// A loaded standardizer must survive a save/load round trip bit for bit and transform without crashing.
template <class T>
void check_loaded(const Standardizer<T>& s) {
  const Standardizer<T> again = Standardizer<T>::from_json(s.to_json());
  MLPKIT_FUZZ_CHECK(again.features() == s.features() && again.count() == s.count(), "round trip changed the shape");
  MLPKIT_FUZZ_CHECK(same_bits(again.mean().data(), s.mean().data(), s.features()), "round trip changed the mean");
  MLPKIT_FUZZ_CHECK(same_bits(again.variance().data(), s.variance().data(), s.features()), "round trip changed σ²");
  MLPKIT_FUZZ_CHECK(again.epsilon() == s.epsilon(), "round trip changed ε");
  const std::size_t features = std::min<std::size_t>(s.features(), 64);
  if (features != s.features()) return;
  std::vector<T> x(features * 3, T(1)), out(x.size());
  s.transform({x.data(), features, 3, 3}, {out.data(), features, 3, 3});
}

template <class T>
void parse_bytes(const std::string& text, bool through_file) {
  try {
    if (!through_file) {
      check_loaded(Standardizer<T>::from_json(text));
      return;
    }
    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("mlpkit_fuzz_standardizer_" + std::to_string(::getpid()) + ".json");
    {
      std::ofstream file(path, std::ios::binary | std::ios::trunc);
      file.write(text.data(), static_cast<std::streamsize>(text.size()));
    }
    check_loaded(Standardizer<T>::load(path));
  } catch (const Error&) {
    // The documented outcome for a malformed, truncated or foreign document.
  }
}

template <class T>
void fit_case(FuzzedDataProvider& in) {
  const Isa isa = pick_isa(in);
  const int threads = in.ConsumeIntegralInRange<int>(1, 4);
  const std::size_t rows = in.ConsumeIntegralInRange<std::size_t>(0, 8);
  const std::size_t cols = in.ConsumeIntegralInRange<std::size_t>(0, in.ConsumeBool() ? 16 : 5000);
  const std::size_t ld = cols + in.ConsumeIntegralInRange<std::size_t>(0, 3);
  const double offset = in.ConsumeBool() ? 0.0 : uniform<double>(in, -1e6, 1e6);
  const double spread = in.ConsumeBool() ? 1.0 : uniform<double>(in, 0, 1e3);
  std::vector<T> x(span_elements(rows, cols, ld), padding_nan<T>());
  std::vector<bool> constant(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    constant[i] = in.ConsumeIntegralInRange<int>(0, 3) == 0;
    const T c = static_cast<T>(offset + uniform<double>(in, -spread, spread));
    for (std::size_t j = 0; j < cols; ++j) {
      const bool fresh = in.remaining_bytes() > 0;
      x[i * ld + j] = constant[i] ? c : static_cast<T>(offset + (fresh ? uniform<double>(in, -spread, spread)
                                                                         : spread * std::sin(double(j))));
    }
  }
  const bool poison = rows > 0 && cols > 0 && in.ConsumeIntegralInRange<int>(0, 5) == 0;
  if (poison) {
    const T bad[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                     -std::numeric_limits<T>::infinity()};
    x[in.ConsumeIntegralInRange<std::size_t>(0, rows - 1) * ld + in.ConsumeIntegralInRange<std::size_t>(0, cols - 1)] =
        bad[in.ConsumeIntegralInRange<int>(0, 2)];
  }
  const MatrixView<const T> vx{x.data(), rows, cols, ld};
  if (std::getenv("MLPKIT_FUZZ_VERBOSE"))
    std::fprintf(stderr, "fit_case: %zu × %zu, ld %zu, offset %g, spread %g, poison %d, threads %d\n", rows, cols, ld,
                 offset, spread, int(poison), threads);

  Standardizer<T> s, serial;
  // A throwing fit leaves an earlier state unchanged.
  std::vector<T> warm(2 * std::max<std::size_t>(rows, 1), T(0.5));
  warm[0] = T(2);
  s.fit({warm.data(), std::max<std::size_t>(rows, 1), 2, 2});
  const std::vector<T> mean_before(s.mean().begin(), s.mean().end());
  bool threw = false;
  try {
    ScopedSetup setup(isa, threads);
    s.fit(vx);
  } catch (const Error&) {
    threw = true;
  }
  MLPKIT_FUZZ_CHECK(threw == (poison || rows == 0 || cols == 0), "fit threw %d (poison %d, %zu × %zu)", int(threw),
                    int(poison), rows, cols);
  if (threw) {
    MLPKIT_FUZZ_CHECK(s.count() == 2 && s.features() == mean_before.size() &&
                          same_bits(s.mean().data(), mean_before.data(), mean_before.size()),
                      "a throwing fit changed the state");
    return;
  }
  {
    ScopedSetup setup(isa, 1);
    serial.fit(vx);
  }
  MLPKIT_FUZZ_CHECK(same_bits(s.mean().data(), serial.mean().data(), rows), "mean differs between %d threads and 1", threads);
  MLPKIT_FUZZ_CHECK(same_bits(s.variance().data(), serial.variance().data(), rows), "σ² differs between threads");

  // Against long double, and against partial_fit over chunks.
  Standardizer<T> chunked;
  std::size_t done = 0;
  while (done < cols) {
    const std::size_t step = std::min(cols - done, in.ConsumeIntegralInRange<std::size_t>(1, std::max<std::size_t>(cols, 1)));
    chunked.partial_fit({x.data() + done, rows, step, ld});
    done += step;
  }
  const double eps = std::numeric_limits<T>::epsilon();
  for (std::size_t i = 0; i < rows; ++i) {
    long double mean = 0, m2 = 0;
    for (std::size_t j = 0; j < cols; ++j) mean += x[i * ld + j];
    mean /= cols;
    for (std::size_t j = 0; j < cols; ++j) m2 += (x[i * ld + j] - mean) * (x[i * ld + j] - mean);
    const double var = static_cast<double>(m2 / cols), mu = static_cast<double>(mean);
    const double mean_tol = 4 * eps * std::abs(mu) + 1e-12 * (std::abs(offset) + spread);
    const double var_tol = 8 * eps * var + 1e-10 * (var + spread * spread) + 1e-20 * offset * offset;
    MLPKIT_FUZZ_CHECK(std::abs(double(s.mean()[i]) - mu) <= mean_tol, "mean[%zu] = %.17g, reference %.17g", i,
                      double(s.mean()[i]), mu);
    MLPKIT_FUZZ_CHECK(std::abs(double(s.variance()[i]) - var) <= var_tol, "variance[%zu] = %.17g, reference %.17g", i,
                      double(s.variance()[i]), var);
    MLPKIT_FUZZ_CHECK(std::abs(double(chunked.mean()[i]) - mu) <= 2 * mean_tol, "partial_fit mean[%zu] = %.17g vs %.17g",
                      i, double(chunked.mean()[i]), mu);
    MLPKIT_FUZZ_CHECK(std::abs(double(chunked.variance()[i]) - var) <= 2 * var_tol,
                      "partial_fit variance[%zu] = %.17g vs %.17g", i, double(chunked.variance()[i]), var);
    if (constant[i]) MLPKIT_FUZZ_CHECK(s.variance()[i] == T(0), "constant feature %zu has σ² %.17g", i, double(s.variance()[i]));
  }

  // transform: threads, in place, reference, and inverse_transform.
  std::vector<T> out(x.size(), T(-7)), out_serial = out, back(x.size(), T(-7));
  {
    ScopedSetup setup(isa, threads);
    s.transform(vx, {out.data(), rows, cols, ld});
  }
  std::vector<T> in_place = x;
  {
    ScopedSetup setup(isa, 1);
    s.transform(vx, {out_serial.data(), rows, cols, ld});
    s.transform({in_place.data(), rows, cols, ld}, {in_place.data(), rows, cols, ld});
    s.inverse_transform({out_serial.data(), rows, cols, ld}, {back.data(), rows, cols, ld});
  }
  MLPKIT_FUZZ_CHECK(same_bits(out.data(), out_serial.data(), out.size()), "transform differs between threads");
  for (std::size_t i = 0; i < rows; ++i) {
    const long double mu = s.mean()[i], var = s.variance()[i];
    const long double scale = var == 0 ? 1.0L : 1.0L / std::sqrt(var + static_cast<long double>(s.epsilon()));
    for (std::size_t j = 0; j < ld && i * ld + j < x.size(); ++j) {
      const std::size_t at = i * ld + j;
      if (j >= cols) {
        MLPKIT_FUZZ_CHECK(out[at] == T(-7), "transform wrote padding (%zu, %zu)", i, j);
        continue;
      }
      MLPKIT_FUZZ_CHECK(same_bits(&in_place[at], &out_serial[at], 1), "in-place transform differs at (%zu, %zu)", i, j);
      const long double want = (x[at] - mu) * scale;
      const double tol = 4 * eps * (std::abs(double(x[at])) + std::abs(double(mu))) * double(scale) + 4 * eps * std::abs(double(want));
      MLPKIT_FUZZ_CHECK(std::abs(double(out[at]) - double(want)) <= tol, "transform(%zu, %zu) = %.17g, reference %.17g",
                        i, j, double(out[at]), double(want));
      if (constant[i]) MLPKIT_FUZZ_CHECK(out[at] == T(0), "constant feature %zu maps to %.17g", i, double(out[at]));
      const double back_tol = 8 * eps * (std::abs(double(x[at])) + std::abs(double(mu)) + 1);
      MLPKIT_FUZZ_CHECK(std::abs(double(back[at]) - double(x[at])) <= back_tol * (1 + double(1 / scale)),
                        "inverse_transform(%zu, %zu) = %.17g, x %.17g", i, j, double(back[at]), double(x[at]));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const int mode = in.ConsumeIntegralInRange<int>(0, 3);
  const bool single = in.ConsumeBool();
  if (mode <= 1) {
    const std::string text = in.ConsumeRemainingBytesAsString();
    single ? parse_bytes<float>(text, mode == 1) : parse_bytes<double>(text, mode == 1);
  } else {
    single ? fit_case<float>(in) : fit_case<double>(in);
  }
  return 0;
}
