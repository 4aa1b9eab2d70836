#pragma once
// Argument checks shared by every public entry point. Each failure throws mlpkit::Error with a
// message of the form "mlpkit::<function>: <argument> <what is wrong> (<values>)".
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "mlpkit/enums.hpp"
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

/** a + b, or throws naming `what` when the sum overflows std::size_t. */
inline std::size_t checked_add(const char* function, const char* what, std::size_t a, std::size_t b) {
  if (b > std::numeric_limits<std::size_t>::max() - a) fail(function, what, " overflows size_t (", a, " + ", b, ")");
  return a + b;
}

/**
 * count · element_size, the bytes of an array the library is about to allocate, or throws naming
 * `what` when they exceed the largest object C++ can address (PTRDIFF_MAX bytes): beyond it
 * std::vector would throw std::length_error, which is not the bad-input contract.
 */
inline std::size_t checked_array_bytes(const char* function, const char* what, std::size_t count,
                                       std::size_t element_size) {
  constexpr auto largest = static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max());
  if (count > largest / element_size)
    fail(function, what, " (", count, " elements of ", element_size, " bytes) exceeds the largest array (", largest,
         " bytes)");
  return count * element_size;
}

/** Throws unless `pointer` is non-null or `count` is 0, and count elements of T fit in memory. */
template <class T>
void check_array(const char* function, const char* argument, const T* pointer, std::size_t count) {
  check_pointer(function, argument, pointer, count);
  checked_array_bytes(function, argument, count, sizeof(T));
}

/** "a " or "an " before `word`, as its first letter asks. */
inline std::string_view indefinite_article(std::string_view word) {
  return !word.empty() && std::string_view("AEIOUaeiou").find(word.front()) != std::string_view::npos ? "an " : "a ";
}

/**
 * Throws unless `value` is one of E's enumerators: "<argument> (<value>) is not a <E>". Every public
 * function checks each enum it receives, directly or inside an options or config struct, here.
 */
template <class E>
void check_enum(const char* function, const char* argument, E value) {
  if (!is_enumerator(value))
    fail(function, argument, " (", static_cast<long long>(value), ") is not ", indefinite_article(EnumTable<E>::type),
         EnumTable<E>::type);
}

/** The table's name of `value`, after check_enum. */
template <class E>
std::string_view enum_name(const char* function, const char* argument, E value) {
  check_enum(function, argument, value);
  return EnumTable<E>::names[static_cast<std::size_t>(value)];
}

/** The enumerator of E named `name`, if any. */
template <class E>
std::optional<E> find_enum(std::string_view name) {
  for (E value : enum_values<E>())
    if (EnumTable<E>::names[static_cast<std::size_t>(value)] == name) return value;
  return std::nullopt;
}

/** E's names in value order, comma-separated: the "accepted: …" list of a parse error. */
template <class E>
std::string enum_names_list() {
  std::string list;
  for (std::string_view name : EnumTable<E>::names) list.append(list.empty() ? "" : ", ").append(name);
  return list;
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

/** The rows of a checked, non-empty view as byte intervals: row i is [start + i·stride, … + length). */
struct RowGrid {
  std::uintptr_t start;
  std::size_t rows, stride, length;
};

template <class T>
RowGrid row_grid(const MatrixView<T>& v) {
  return {reinterpret_cast<std::uintptr_t>(v.data), v.rows, v.ld * sizeof(T), v.cols * sizeof(T)};
}

/**
 * Whether a row of `x` shares a byte with a row of `y`. For each row of x, the first row of y that
 * ends after it starts is found by division (rows of y are equally spaced and never overlap each
 * other, since ld ≥ cols); they meet iff that row starts before x's row ends. O(x.rows).
 */
inline bool grids_meet(const RowGrid& x, const RowGrid& y) {
  for (std::size_t i = 0; i < x.rows; ++i) {
    const std::uintptr_t begin = x.start + i * x.stride;
    const std::size_t r = begin < y.start + y.length ? 0 : (begin - y.start - y.length) / y.stride + 1;
    if (r < y.rows && y.start + r * y.stride < begin + x.length) return true;
  }
  return false;
}

/**
 * Whether two checked views share a byte (an empty view overlaps nothing). Exact, not a test of the
 * spans: two disjoint column slices of one matrix (the same rows, ld and buffer) do not overlap.
 */
template <class A, class B>
bool views_overlap(const MatrixView<A>& a, const MatrixView<B>& b) {
  const auto pa = reinterpret_cast<std::uintptr_t>(a.data), pb = reinterpret_cast<std::uintptr_t>(b.data);
  const std::size_t sa = view_span_bytes(a), sb = view_span_bytes(b);
  if (sa == 0 || sb == 0 || pa >= pb + sb || pb >= pa + sa) return false;
  return a.rows <= b.rows ? grids_meet(row_grid(a), row_grid(b)) : grids_meet(row_grid(b), row_grid(a));
}

/** n contiguous elements as a 1 × n view (empty for n = 0), for the overlap checks of arrays. */
template <class T>
MatrixView<T> array_view(T* data, std::size_t n) {
  return n == 0 ? MatrixView<T>{} : MatrixView<T>{data, 1, n, n};
}

/**
 * Throws unless the checked views `out` (written) and `in` (read) share no byte at all: for
 * functions where an element of out is written before every element of in it depends on is read
 * (a GEMM, a reduction over rows), even the exact in-place form gives a wrong answer.
 */
template <class A, class B>
void check_disjoint(const char* function, const char* out_name, const MatrixView<A>& out, const char* in_name,
                    const MatrixView<B>& in) {
  if (!views_overlap(out, in)) return;
  fail(function, out_name, " overlaps ", in_name, " (", out_name, " at ", static_cast<const void*>(out.data), ", ",
       out.rows, " × ", out.cols, " with ld ", out.ld, "; ", in_name, " at ", static_cast<const void*>(in.data), ", ",
       in.rows, " × ", in.cols, " with ld ", in.ld, "): the output may not share memory with an input");
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

/** A view with the argument name the overlap checks report. */
template <class T>
struct NamedView {
  const char* name;
  MatrixView<const T> view;
};

/**
 * check_disjoint for every pair of (output, input) and (output, another output): the form of
 * functions that write several arrays (batch norm: y, running_mean, running_variance).
 */
template <class T>
void check_all_disjoint(const char* function, std::initializer_list<NamedView<T>> outputs,
                        std::initializer_list<NamedView<T>> inputs) {
  for (auto out = outputs.begin(); out != outputs.end(); ++out) {
    for (const NamedView<T>& in : inputs) check_disjoint(function, out->name, out->view, in.name, in.view);
    for (auto other = std::next(out); other != outputs.end(); ++other)
      check_disjoint(function, out->name, out->view, other->name, other->view);
  }
}

}  // namespace mlpkit::detail
