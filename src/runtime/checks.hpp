#pragma once
// Argument checks shared by every public entry point. Each failure throws mlpkit::Error with a
// message of the form "mlpkit::<function>: <argument> <what is wrong> (<values>)".
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#include "mlpkit/error.hpp"
#include "mlpkit/matrix.hpp"

namespace mlpkit::detail {

/** Concatenates the streamed form of each part. */
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

/** Throws mlpkit::Error("mlpkit::<function>: <parts…>"). */
template <class... Parts>
[[noreturn]] void fail(const char* function, const Parts&... parts) {
  throw Error(concat("mlpkit::", function, ": ", parts...));
}

/** Throws unless `pointer` is non-null or `count` is 0. */
inline void check_pointer(const char* function, const char* argument, const void* pointer, std::size_t count) {
  if (pointer == nullptr && count != 0) fail(function, argument, " is null but holds ", count, " elements");
}

/** a·b, or throws naming `what` when the product overflows std::size_t. */
inline std::size_t checked_mul(const char* function, const char* what, std::size_t a, std::size_t b) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a)
    fail(function, what, " overflows size_t (", a, " × ", b, ")");
  return a * b;
}

/**
 * Checks a matrix view that a function receives: ld >= cols, data non-null unless the view is
 * empty, and the span it addresses ((rows−1)·ld + cols elements) fits in memory.
 */
template <class T>
void check_view(const char* function, const char* argument, const MatrixView<T>& v) {
  if (v.ld < v.cols) fail(function, argument, ".ld (", v.ld, ") is smaller than its cols (", v.cols, ")");
  if (v.rows == 0 || v.cols == 0) return;
  if (v.data == nullptr) fail(function, argument, ".data is null but the view is ", v.rows, " × ", v.cols);
  checked_mul(function, argument, v.rows, v.ld);
  checked_mul(function, argument, v.rows * v.ld, sizeof(T));
}

/** Throws unless the view is exactly rows × cols; names both shapes. */
template <class T>
void check_shape(const char* function, const char* argument, const MatrixView<T>& v, std::size_t rows,
                 std::size_t cols) {
  if (v.rows != rows || v.cols != cols)
    fail(function, argument, " is ", v.rows, " × ", v.cols, " but must be ", rows, " × ", cols);
}

/** Bytes from the first element of a checked view to one past its last ((rows−1)·ld + cols elements); 0 when empty. */
template <class T>
std::size_t view_span_bytes(const MatrixView<T>& v) {
  return v.rows == 0 || v.cols == 0 ? 0 : ((v.rows - 1) * v.ld + v.cols) * sizeof(T);
}

/** Whether the memory spans of two checked views intersect (an empty view overlaps nothing). */
template <class A, class B>
bool views_overlap(const MatrixView<A>& a, const MatrixView<B>& b) {
  const auto pa = reinterpret_cast<std::uintptr_t>(a.data), pb = reinterpret_cast<std::uintptr_t>(b.data);
  const std::size_t sa = view_span_bytes(a), sb = view_span_bytes(b);
  return sa != 0 && sb != 0 && pa < pb + sb && pb < pa + sa;
}

/**
 * Throws unless the checked views `out` and `in` are disjoint or exactly the same matrix (same
 * data and ld: the in-place form); a partial overlap would let one element's write feed another's read.
 */
template <class A, class B>
void check_alias(const char* function, const char* out_name, const MatrixView<A>& out, const char* in_name,
                 const MatrixView<B>& in) {
  if (!views_overlap(out, in)) return;
  const bool same_data = static_cast<const void*>(out.data) == static_cast<const void*>(in.data);
  if (same_data && out.ld == in.ld) return;
  fail(function, out_name, " overlaps ", in_name, same_data ? " with a different ld" : " without being the same matrix",
       " (", out_name, " at ", static_cast<const void*>(out.data), " with ld ", out.ld, ", ", in_name, " at ",
       static_cast<const void*>(in.data), " with ld ", in.ld, ")");
}

}  // namespace mlpkit::detail
