#pragma once
// The GEMM libraries bench_gemm races mlpkit against, each optional (found by CMake in bench/):
// OpenBLAS (cblas_?gemm) or BLIS (bli_?gemm, in bench_gemm_blis: both export the BLAS symbols),
// libxsmm (JIT kernels, libxsmm_?mmdispatch) and oneDNN (dnnl::matmul, with bias + ReLU post-ops for
// the fused rows). Each takes a row-major problem C = op(A)·op(B) (+ bias, ReLU) and returns false
// where it has no kernel for it (libxsmm beyond its JIT sizes, say); `describe` names its kernel.
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "mlpkit/mlpkit.hpp"

#ifdef MLPKIT_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif
#ifdef MLPKIT_BENCH_HAVE_BLIS
#include <blis.h>
#endif
#ifdef MLPKIT_BENCH_HAVE_LIBXSMM
#include <libxsmm.h>
#endif
#ifdef MLPKIT_BENCH_HAVE_DNNL
#include <omp.h>

#include <dnnl.hpp>
#endif

namespace mlpkit_bench {

/** One stored problem: A is m × k (k × m when ta), B is k × n (n × k when tb), C is m × n. */
template <class T>
struct GemmProblem {
  mlpkit::Trans ta, tb;
  std::size_t m, n, k;
  mlpkit::Matrix<T> a, b, c;
  std::vector<T> bias;
};

#ifdef MLPKIT_BENCH_HAVE_OPENBLAS
inline std::string blas_kernel() { return std::string("OpenBLAS ") + openblas_get_corename(); }
inline void set_blas_threads(int threads) { openblas_set_num_threads(threads); }
template <class T>
void blas_gemm(GemmProblem<T>& p) {
  const auto ta = p.ta == mlpkit::Trans::no ? CblasNoTrans : CblasTrans;
  const auto tb = p.tb == mlpkit::Trans::no ? CblasNoTrans : CblasTrans;
  const auto m = static_cast<blasint>(p.m), n = static_cast<blasint>(p.n), k = static_cast<blasint>(p.k);
  const auto lda = static_cast<blasint>(p.a.ld()), ldb = static_cast<blasint>(p.b.ld()),
             ldc = static_cast<blasint>(p.c.ld());
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, p.a.data(), lda, p.b.data(), ldb, 0.0f, p.c.data(), ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, p.a.data(), lda, p.b.data(), ldb, 0.0, p.c.data(), ldc);
}
#elif defined(MLPKIT_BENCH_HAVE_BLIS)
inline std::string blas_kernel() { return std::string("BLIS config ") + bli_arch_string(bli_arch_query_id()); }
inline void set_blas_threads(int threads) { bli_thread_set_num_threads(threads); }
// BLIS's typed API with general strides: row-major is row stride ld, column stride 1.
template <class T>
void blas_gemm(GemmProblem<T>& p) {
  T one(1), zero(0);
  const auto ta = p.ta == mlpkit::Trans::no ? BLIS_NO_TRANSPOSE : BLIS_TRANSPOSE;
  const auto tb = p.tb == mlpkit::Trans::no ? BLIS_NO_TRANSPOSE : BLIS_TRANSPOSE;
  const auto m = static_cast<dim_t>(p.m), n = static_cast<dim_t>(p.n), k = static_cast<dim_t>(p.k);
  const auto lda = static_cast<inc_t>(p.a.ld()), ldb = static_cast<inc_t>(p.b.ld()), ldc = static_cast<inc_t>(p.c.ld());
  if constexpr (std::is_same_v<T, float>)
    bli_sgemm(ta, tb, m, n, k, &one, p.a.data(), lda, 1, p.b.data(), ldb, 1, &zero, p.c.data(), ldc, 1);
  else
    bli_dgemm(ta, tb, m, n, k, &one, p.a.data(), lda, 1, p.b.data(), ldb, 1, &zero, p.c.data(), ldc, 1);
}
#endif
#if defined(MLPKIT_BENCH_HAVE_OPENBLAS) || defined(MLPKIT_BENCH_HAVE_BLIS)
#define MLPKIT_BENCH_HAVE_BLAS 1
#endif

#ifdef MLPKIT_BENCH_HAVE_LIBXSMM
inline std::string xsmm_kernel() { return std::string("libxsmm ") + libxsmm_get_target_arch(); }

/**
 * A libxsmm JIT kernel for the problem, or a null call when libxsmm has none. libxsmm is
 * column-major: row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, where a row-major
 * stored matrix already reads as its transpose, so B is libxsmm's first operand and A its second.
 */
template <class T>
struct XsmmCall {
  std::conditional_t<std::is_same_v<T, float>, libxsmm_smmfunction, libxsmm_dmmfunction> kernel = nullptr;
  explicit XsmmCall(const GemmProblem<T>& p) {
    const auto m = static_cast<libxsmm_blasint>(p.n), n = static_cast<libxsmm_blasint>(p.m),
               k = static_cast<libxsmm_blasint>(p.k);
    const auto lda = static_cast<libxsmm_blasint>(p.b.ld()), ldb = static_cast<libxsmm_blasint>(p.a.ld()),
               ldc = static_cast<libxsmm_blasint>(p.c.ld());
    const int flags = (p.tb == mlpkit::Trans::yes ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) |
                      (p.ta == mlpkit::Trans::yes ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
    const T alpha(1), beta(0);
    if constexpr (std::is_same_v<T, float>)
      kernel = libxsmm_smmdispatch(m, n, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
    else
      kernel = libxsmm_dmmdispatch(m, n, k, &lda, &ldb, &ldc, &alpha, &beta, &flags, nullptr);
  }
  void operator()(GemmProblem<T>& p) const { kernel(p.b.data(), p.a.data(), p.c.data()); }
};
#endif

#ifdef MLPKIT_BENCH_HAVE_DNNL
inline std::string dnnl_isa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    default: return "other (" + std::to_string(static_cast<int>(dnnl::get_effective_cpu_isa())) + ")";
  }
}

/** A oneDNN matmul primitive for the problem (float only), optionally with bias (per row of C) + ReLU post-ops. */
template <class T>
struct DnnlCall {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::matmul matmul;
  std::unordered_map<int, dnnl::memory> args;
  std::string impl;
  std::vector<T> examples, features;  // with bias: X (examples × features in) and dst (examples × features out)

  DnnlCall(GemmProblem<T>& p, bool bias_relu) {
    using dnnl::memory;
    static_assert(std::is_same_v<T, float>, "oneDNN 2.6 has no f64 matmul");
    const auto dt = memory::data_type::f32;
    const auto m = static_cast<memory::dim>(p.m), n = static_cast<memory::dim>(p.n), k = static_cast<memory::dim>(p.k);
    const auto lda = static_cast<memory::dim>(p.a.ld()), ldb = static_cast<memory::dim>(p.b.ld()),
               ldc = static_cast<memory::dim>(p.c.ld());
    const bool ta = p.ta == mlpkit::Trans::yes, tb = p.tb == mlpkit::Trans::yes;
    // oneDNN's matmul takes a bias per column of a row-major destination (its channels; a bias per
    // row or a column-major destination sends it to its reference kernel), while mlpkit's bias is
    // per row of C (features are rows). With bias it computes the layer in its own layout, examples
    // × features: dst = X·Wᵀ = Cᵀ, with X = op(B)ᵀ copied row-major and dst a buffer of its own.
    const memory::desc a_md = bias_relu ? memory::desc({n, k}, dt, memory::dims{k, 1})
                                        : memory::desc({m, k}, dt, ta ? memory::dims{1, lda} : memory::dims{lda, 1});
    const memory::desc b_md = bias_relu ? memory::desc({k, m}, dt, ta ? memory::dims{lda, 1} : memory::dims{1, lda})
                                        : memory::desc({k, n}, dt, tb ? memory::dims{1, ldb} : memory::dims{ldb, 1});
    const memory::desc c_md = bias_relu ? memory::desc({n, m}, dt, memory::dims{m, 1})
                                        : memory::desc({m, n}, dt, memory::dims{ldc, 1});
    const memory::desc bias_md({1, m}, dt, memory::dims{m, 1});
    if (bias_relu) {
      examples.resize(p.n * p.k);
      for (std::size_t j = 0; j < p.n; ++j)
        for (std::size_t q = 0; q < p.k; ++q) examples[j * p.k + q] = tb ? p.b(j, q) : p.b(q, j);
      features.resize(p.n * p.m);
    }
    dnnl::primitive_attr attr;
    if (bias_relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::desc desc = bias_relu ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                                              : dnnl::matmul::desc(a_md, b_md, c_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, engine);
    impl = pd.impl_info_str();
    matmul = dnnl::matmul(pd);
    args[DNNL_ARG_SRC] = memory(a_md, engine, bias_relu ? examples.data() : p.a.data());
    args[DNNL_ARG_WEIGHTS] = memory(b_md, engine, bias_relu ? p.a.data() : p.b.data());
    args[DNNL_ARG_DST] = memory(c_md, engine, bias_relu ? features.data() : p.c.data());
    if (bias_relu) args[DNNL_ARG_BIAS] = memory(bias_md, engine, p.bias.data());
  }
  void operator()() {
    matmul.execute(stream, args);
    stream.wait();
  }
};
#endif

}  // namespace mlpkit_bench
