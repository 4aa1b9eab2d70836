// Public GEMM API: argument checks, then the blocked multithreaded driver over the active ISA's kernels.
#include "mlpkit/gemm.hpp"

#include "kernels/activations/activations_kernels.hpp"
#include "kernels/gemm/gemm_kernels.hpp"
#include "runtime/checks.hpp"
#include "runtime/dispatch.hpp"

namespace mlpkit {
namespace detail {

template <class T>
const GemmKernels<T>& active_gemm_kernels() {
  return dispatch([]<class Arch>() -> const GemmKernels<T>& { return gemm_kernels<Arch, T>(); });
}

namespace {

const char* trans_name(Trans t) { return t == Trans::no ? "Trans::no" : "Trans::yes"; }

// One operand of the pointer form: stored rows × cols with leading dimension ld.
template <class T>
void check_operand(const char* function, const char* name, const char* ld_name, Trans t, std::size_t rows,
                   std::size_t cols, const T* data, std::size_t ld) {
  if (ld < cols)
    fail(function, ld_name, " (", ld, ") is smaller than the row length of ", name, " (", cols, ", ", name,
         " is stored ", rows, " × ", cols, " with ", trans_name(t), ")");
  if (rows == 0 || cols == 0) return;
  if (data == nullptr) fail(function, name, " is null but holds ", rows, " × ", cols, " elements");
  const std::size_t elements = checked_mul(function, name, rows, ld);
  checked_mul(function, name, elements, sizeof(T));
}

}  // namespace

template <class T>
void check_gemm_arguments(const char* function, Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k,
                          const T* a, std::size_t lda, const T* b, std::size_t ldb, const T* c, std::size_t ldc) {
  checked_mul(function, "m·n·k", checked_mul(function, "m·n", m, n), k);
  if (ta == Trans::no)
    check_operand(function, "a", "lda", ta, m, k, a, lda);
  else
    check_operand(function, "a", "lda", ta, k, m, a, lda);
  if (tb == Trans::no)
    check_operand(function, "b", "ldb", tb, k, n, b, ldb);
  else
    check_operand(function, "b", "ldb", tb, n, k, b, ldb);
  check_operand(function, "c", "ldc", Trans::no, m, n, c, ldc);
}

template <class T>
std::size_t check_gemm_views(const char* function, Trans ta, Trans tb, MatrixView<const T> a, MatrixView<const T> b,
                             MatrixView<T> c, const Epilogue<T>& epilogue) {
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
  const auto activation = static_cast<int>(epilogue.activation);
  if (activation < 0 || activation > static_cast<int>(Activation::gelu_tanh))
    fail(function, "epilogue.activation (", activation, ") is not an Activation");
  check_accuracy(function, "epilogue.accuracy", epilogue.accuracy);
  const MatrixView<T>& pre_activation = epilogue.pre_activation;
  if (pre_activation.data != nullptr) {
    check_view(function, "epilogue.pre_activation", pre_activation);
    check_shape(function, "epilogue.pre_activation", pre_activation, c.rows, c.cols);
    // The store writes Z then act(Z) element by element: only Z = C exactly (same ld) is safe.
    check_alias(function, "epilogue.pre_activation", pre_activation, "c", c);
  }
  return a_k;
}

}  // namespace detail

template <class T>
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
          const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  detail::check_gemm_arguments("gemm", ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
  detail::gemm_blocked(detail::active_gemm_kernels<T>(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                       Epilogue<T>{});
}

template <class T>
void gemm(Trans ta, Trans tb, std::type_identity_t<T> alpha, MatrixView<const std::type_identity_t<T>> a,
          MatrixView<const std::type_identity_t<T>> b, std::type_identity_t<T> beta, MatrixView<T> c,
          const Epilogue<T>& epilogue) {
  const std::size_t k = detail::check_gemm_views("gemm", ta, tb, a, b, c, epilogue);
  detail::gemm_blocked(detail::active_gemm_kernels<T>(), ta, tb, c.rows, c.cols, k, alpha, a.data, a.ld, b.data, b.ld,
                       beta, c.data, c.ld, epilogue);
}

#define MLPKIT_INSTANTIATE_GEMM(T)                                                                                    \
  template void gemm<T>(Trans, Trans, std::size_t, std::size_t, std::size_t, T, const T*, std::size_t, const T*,      \
                        std::size_t, T, T*, std::size_t);                                                             \
  template void gemm<T>(Trans, Trans, T, MatrixView<const T>, MatrixView<const T>, T, MatrixView<T>,                  \
                        const Epilogue<T>&);                                                                          \
  template const detail::GemmKernels<T>& detail::active_gemm_kernels<T>();                                            \
  template void detail::check_gemm_arguments<T>(const char*, Trans, Trans, std::size_t, std::size_t, std::size_t,     \
                                                const T*, std::size_t, const T*, std::size_t, const T*, std::size_t); \
  template std::size_t detail::check_gemm_views<T>(const char*, Trans, Trans, MatrixView<const T>,                    \
                                                   MatrixView<const T>, MatrixView<T>, const Epilogue<T>&);
MLPKIT_INSTANTIATE_GEMM(float)
MLPKIT_INSTANTIATE_GEMM(double)
#undef MLPKIT_INSTANTIATE_GEMM

}  // namespace mlpkit
