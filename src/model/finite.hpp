#pragma once
// The finiteness check of loaded weights, shared by the model file reader and the ONNX importer.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstddef>
#include <limits>

#include "mlpkit/mlp.hpp"
#include "model/safetensors.hpp"
#include "runtime/checks.hpp"

namespace mlpkit::detail {

// One pass without branches (vectorizes); only a model that holds a non-finite value is scanned
// again to name the tensor and the entry. (The model file reader checks its chunks with the SIMD
// kernels instead: model.cpp; the ONNX importer, a separate library, cannot call those.)
template <class T>
inline bool all_finite(const T* values, std::size_t n) {
  unsigned bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad |= static_cast<unsigned>(!(std::abs(values[i]) <= std::numeric_limits<T>::max()));
  return bad == 0;
}

/**
 * Throws naming tensor `t` and its first non-finite entry when `values` hold one: its first
 * `count` entries (all rows·cols by default).
 */
template <class T>
void check_finite(const ErrorContext& where, const TensorInfo& t, const T* values, std::size_t count = SIZE_MAX) {
  for (std::size_t i = 0; i < std::min(count, t.rows * t.cols); ++i)
    if (!std::isfinite(values[i]))
      fail_in(where, concat("tensor ", t.name, " holds a non-finite value (", values[i], ") at [", i / t.cols, ", ", i % t.cols,
                            "] (accepted only with allow_nonfinite)"));
}

/** Throws naming the tensor and the entry when θ holds NaN or ±Inf. */
template <class T>
void check_finite(const ErrorContext& where, const Mlp<T>& net) {
  const auto theta = net.parameters();
  if (all_finite(theta.data(), theta.size())) return;
  for (const auto& t : net.tensors()) check_finite(where, t, theta.data() + t.offset);
}

}  // namespace mlpkit::detail
