// Public GEMM API: argument checks, then the blocked multithreaded driver over the active ISA's kernels.
#include "mlpkit/gemm.hpp"

#include <cstdint>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_paths.hpp"
#include "runtime/checks.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit {
namespace detail {

MLPKIT_DEFINE_ACTIVE_KERNELS(GemmKernels, gemm)

namespace {

const char* trans_name(Trans t) { return t == Trans::no ? "Trans::no" : "Trans::yes"; }

// One operand of the pointer form: stored rows × cols with leading dimension ld; returns it as a view.
template <class T>
MatrixView<const T> check_operand(const char* function, const char* name, const char* ld_name, Trans t,
                                  std::size_t rows, std::size_t cols, const T* data, std::size_t ld) {
  if (ld < cols)
    fail(function, ld_name, " (", ld, ") is smaller than the row length of ", name, " (", cols, ", ", name,
         " is stored ", rows, " × ", cols, " with ", trans_name(t), ")");
  if (rows == 0 || cols == 0) return {};
  if (data == nullptr) fail(function, name, " is null but holds ", rows, " × ", cols, " elements");
  const std::size_t elements = checked_mul(function, name, rows, ld);
  checked_mul(function, name, elements, sizeof(T));
  return {data, rows, cols, ld};
}

// C is written tile by tile while A and B are still being read: C may share no memory with them,
// not even as the exact same matrix.
template <class T>
void check_c_apart(const char* function, const char* c_name, MatrixView<const T> c, MatrixView<const T> a,
                   MatrixView<const T> b) {
  check_disjoint(function, c_name, c, "a", a);
  check_disjoint(function, c_name, c, "b", b);
}

// The fast form of the checks, for the common call: every view non-empty, at most kPlainDim rows
// and columns and kPlainLd a row (so no size product can overflow), enums valid, and C's span apart
// from the spans of every input. Where it holds, every check below passes too; where it does not,
// the full checks run (and name what is wrong). A small product (16×32×16 float: ~80 ns of FMAs)
// spent a fifth of its time in the full checks.
constexpr std::size_t kPlainDim = std::size_t(1) << 20, kPlainLd = std::size_t(1) << 28;

// Byte interval [lo, hi) that a non-empty view spans.
struct Span {
  std::uintptr_t lo, hi;
};

template <class T>
Span span_of(const MatrixView<T>& v) {
  const auto lo = reinterpret_cast<std::uintptr_t>(v.data);
  return {lo, lo + ((v.rows - 1) * v.ld + v.cols) * sizeof(T)};
}

bool apart(Span x, Span y) { return x.hi <= y.lo || y.hi <= x.lo; }

template <class T>
bool plain_view(const MatrixView<T>& v) {
  return v.data != nullptr && v.rows - 1 < kPlainDim && v.cols - 1 < kPlainDim && v.ld >= v.cols && v.ld < kPlainLd;
}

template <class T>
bool plainly_valid(Trans ta, Trans tb, MatrixView<const T> a, MatrixView<const T> b, MatrixView<T> c,
                   const Epilogue<T>& epilogue) {
  if (!is_enumerator(ta) || !is_enumerator(tb) || !is_enumerator(epilogue.activation) ||
      !is_enumerator(epilogue.accuracy) || !plain_view(a) || !plain_view(b) || !plain_view(c))
    return false;
  const bool a_no = ta == Trans::no, b_no = tb == Trans::no;
  if ((a_no ? a.rows : a.cols) != c.rows || (b_no ? b.cols : b.rows) != c.cols ||
      (a_no ? a.cols : a.rows) != (b_no ? b.rows : b.cols))
    return false;
  const Span sa = span_of(a), sb = span_of(b), sc = span_of(c);
  const auto bias_lo = reinterpret_cast<std::uintptr_t>(epilogue.bias);
  const Span bias{bias_lo, epilogue.bias == nullptr ? bias_lo : bias_lo + c.rows * sizeof(T)};
  if (!apart(sc, sa) || !apart(sc, sb) || !apart(sc, bias)) return false;
  const MatrixView<T>& pre = epilogue.pre_activation;
  if (pre.data == nullptr) return true;
  if (pre.rows != c.rows || pre.cols != c.cols || pre.ld < pre.cols || pre.ld >= kPlainLd) return false;
  const Span sp = span_of(pre);
  return (pre.data == c.data && pre.ld == c.ld) ||
         (apart(sp, sc) && apart(sp, sa) && apart(sp, sb) && apart(sp, bias));
}

// A plainly valid product (every dimension at least 1) that gemm_blocked would give the small kernel
// (op(B) = B, alpha ≠ 0, small_size and not skinny_shape), given to it straight from here: the driver's
// general set-up (operands, path decisions, the Product) was a sixth of a 16×32×16 call's
// instructions. Returns false, having done nothing, for every other product.
// Inlined: called apart, it cost ~35 instructions more a call (16×32×16 float).
template <class T>
[[gnu::always_inline]] inline bool small_route(const GemmKernels<T>& kernels, Trans ta, Trans tb, std::size_t m,
                                               std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                                               const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc,
                                               const Epilogue<T>& epilogue) {
  bool columns = false;
  // op(A) = Aᵀ is the skinny kernel's axpy form unless its stride is 1 (op_a.rs == 1 && op_a.cs != 1).
  if (tb != Trans::no || alpha == T(0) || !small_size(kernels, m, n, k) ||
      skinny_shape(kernels.blocking, ta == Trans::yes && lda != 1, m, n, k, columns))
    return false;
  const GemmTileEpilogue<T> full = tile_epilogue(epilogue);
  kernels.small_kernel(m, n, k, alpha, op_operand(a, lda, ta), b, ldb, beta, c, ldc, fuses(epilogue) ? &full : nullptr);
  return true;
}

}  // namespace

template <class T>
void check_gemm_arguments(const char* function, Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k,
                          const T* a, std::size_t lda, const T* b, std::size_t ldb, const T* c, std::size_t ldc) {
  check_enum(function, "ta", ta);
  check_enum(function, "tb", tb);
  checked_mul(function, "m·n·k", checked_mul(function, "m·n", m, n), k);
  const MatrixView<const T> a_stored = ta == Trans::no ? check_operand(function, "a", "lda", ta, m, k, a, lda)
                                                       : check_operand(function, "a", "lda", ta, k, m, a, lda);
  const MatrixView<const T> b_stored = tb == Trans::no ? check_operand(function, "b", "ldb", tb, k, n, b, ldb)
                                                       : check_operand(function, "b", "ldb", tb, n, k, b, ldb);
  const MatrixView<const T> c_stored = check_operand(function, "c", "ldc", Trans::no, m, n, c, ldc);
  // With α = 0 A and B are not read, but a C that overlaps them is still a caller's mistake:
  // reject it whatever the values.
  check_c_apart(function, "c", c_stored, a_stored, b_stored);
}

template <class T>
std::size_t check_gemm_views(const char* function, Trans ta, Trans tb, MatrixView<const T> a, MatrixView<const T> b,
                             MatrixView<T> c, const Epilogue<T>& epilogue) {
  check_enum(function, "ta", ta);
  check_enum(function, "tb", tb);
  check_view(function, "a", a);
  check_view(function, "b", b);
  check_view(function, "c", c);
  const std::size_t a_m = ta == Trans::no ? a.rows : a.cols;
  const std::size_t a_k = ta == Trans::no ? a.cols : a.rows;
  const std::size_t b_k = tb == Trans::no ? b.rows : b.cols;
  const std::size_t b_n = tb == Trans::no ? b.cols : b.rows;
  if (a_m != c.rows)
    fail(function, "op(a) has ", a_m, " rows (a is ", a.rows, " × ", a.cols, ", ", trans_name(ta), ") but c has ",
         c.rows, " rows (c is ", c.rows, " × ", c.cols, ")");
  if (b_n != c.cols)
    fail(function, "op(b) has ", b_n, " columns (b is ", b.rows, " × ", b.cols, ", ", trans_name(tb), ") but c has ",
         c.cols, " columns (c is ", c.rows, " × ", c.cols, ")");
  if (a_k != b_k)
    fail(function, "inner dimensions differ: op(a) is ", a_m, " × ", a_k, " and op(b) is ", b_k, " × ", b_n, " (",
         trans_name(ta), ", ", trans_name(tb), ")");
  checked_mul(function, "m·n·k", checked_mul(function, "m·n", c.rows, c.cols), a_k);
  check_enum(function, "epilogue.activation", epilogue.activation);
  check_enum(function, "epilogue.accuracy", epilogue.accuracy);
  check_c_apart<T>(function, "c", c, a, b);
  // The bias is read row by row while C's rows are stored: it may not lie in C (or in Z).
  const MatrixView<const T> bias =
      epilogue.bias == nullptr ? MatrixView<const T>{} : MatrixView<const T>{epilogue.bias, c.rows, 1, 1};
  check_disjoint(function, "c", MatrixView<const T>(c), "epilogue.bias", bias);
  const MatrixView<T>& pre_activation = epilogue.pre_activation;
  if (pre_activation.data != nullptr) {
    check_view(function, "epilogue.pre_activation", pre_activation);
    check_shape(function, "epilogue.pre_activation", pre_activation, c.rows, c.cols);
    // The store writes Z then act(Z) element by element: only Z = C exactly (same ld) is safe.
    check_alias(function, "epilogue.pre_activation", pre_activation, "c", c);
    check_c_apart<T>(function, "epilogue.pre_activation", pre_activation, a, b);
    check_disjoint(function, "epilogue.pre_activation", MatrixView<const T>(pre_activation), "epilogue.bias", bias);
  }
  return a_k;
}

}  // namespace detail

template <class T>
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
          const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  const bool a_no = ta == Trans::no, b_no = tb == Trans::no;
  const MatrixView<const T> av{a, a_no ? m : k, a_no ? k : m, lda}, bv{b, b_no ? k : n, b_no ? n : k, ldb};
  // The arguments are checked before the ISA is asked for (its selection may throw too).
  const bool plain = detail::plainly_valid(ta, tb, av, bv, MatrixView<T>{c, m, n, ldc}, Epilogue<T>{});
  if (!plain) detail::check_gemm_arguments("gemm", ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
  const detail::GemmKernels<T>& kernels = detail::active_gemm_kernels<T>();
  if (plain && detail::small_route(kernels, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Epilogue<T>{}))
    return;
  detail::gemm_blocked(kernels, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Epilogue<T>{});
}

template <class T>
void gemm(Trans ta, Trans tb, std::type_identity_t<T> alpha, const MatrixView<const std::type_identity_t<T>>& a,
          const MatrixView<const std::type_identity_t<T>>& b, std::type_identity_t<T> beta, const MatrixView<T>& c,
          const Epilogue<T>& epilogue) {
  const bool plain = detail::plainly_valid(ta, tb, a, b, c, epilogue);
  const std::size_t k =
      plain ? (ta == Trans::no ? a.cols : a.rows) : detail::check_gemm_views("gemm", ta, tb, a, b, c, epilogue);
  const detail::GemmKernels<T>& kernels = detail::active_gemm_kernels<T>();
  if (plain && detail::small_route(kernels, ta, tb, c.rows, c.cols, k, alpha, a.data, a.ld, b.data, b.ld, beta,
                                   c.data, c.ld, epilogue))
    return;
  detail::gemm_blocked(kernels, ta, tb, c.rows, c.cols, k, alpha, a.data, a.ld, b.data, b.ld, beta, c.data, c.ld,
                       epilogue);
}

#define MLPKIT_INSTANTIATE_GEMM(T)                                                                                    \
  template void gemm<T>(Trans, Trans, std::size_t, std::size_t, std::size_t, T, const T*, std::size_t, const T*,      \
                        std::size_t, T, T*, std::size_t);                                                             \
  template void gemm<T>(Trans, Trans, T, const MatrixView<const T>&, const MatrixView<const T>&, T,                   \
                        const MatrixView<T>&, const Epilogue<T>&);                                                    \
  template const detail::GemmKernels<T>& detail::active_gemm_kernels<T>();                                            \
  template void detail::check_gemm_arguments<T>(const char*, Trans, Trans, std::size_t, std::size_t, std::size_t,     \
                                                const T*, std::size_t, const T*, std::size_t, const T*, std::size_t); \
  template std::size_t detail::check_gemm_views<T>(const char*, Trans, Trans, MatrixView<const T>,                    \
                                                   MatrixView<const T>, MatrixView<T>, const Epilogue<T>&);
MLPKIT_INSTANTIATE_GEMM(float)
MLPKIT_INSTANTIATE_GEMM(double)
#undef MLPKIT_INSTANTIATE_GEMM

}  // namespace mlpkit
