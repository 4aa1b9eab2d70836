// The small-problem path of gemm (AVX-512: balanced row tiles, masked column tails, no packing):
// against the reference at the edge sizes of its tiles, and bitwise against the direct and packed
// paths it replaces (the same sums in the same order), with the fused epilogue, under every ISA
// (where the ISA has no small kernel, sse2 and avx2, the other paths run and must agree all the
// same). gemm only gives the small kernel shapes the skinny kernel does not take (m and n above 8),
// so the kernel is also called directly at every row and column count from 1, against the reference.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_ref.hpp"
#include "mlpkit/mlpkit.hpp"
#include "gemm_stored.hpp"
#include "scoped_threads.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

constexpr Trans kTrans[] = {Trans::no, Trans::yes};
constexpr std::size_t kSizes[] = {1, 2, 3, 9, 15, 16, 17, 31, 33};

using test::Stored;

struct Case {
  Trans ta, tb;
  std::size_t m, n, k;
  bool pow2_ld, fused;
  double beta;
  double alpha = 0.75;  ///< 1 takes the small kernel's store without the multiply by alpha
  Activation activation = Activation::gelu;  ///< of the fused cases; ReLU is applied in the small kernel's store
};

// Bitwise equality, NaN included (C past each row keeps the NaN it started with when beta = 0).
template <class T>
bool same_bits(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}

// gemm_blocked through `kernels` on the case's operands; C starts as NaN when beta = 0.
template <class T>
Stored<T> run(const detail::GemmKernels<T>& kernels, const Case& cs, const Stored<T>& a, const Stored<T>& b,
              const std::vector<T>& bias, Stored<T>* pre) {
  Stored<T> c(cs.m, cs.n, cs.pow2_ld, 31 + cs.m);
  if (cs.beta == 0) std::fill(c.data.begin(), c.data.end(), std::numeric_limits<T>::quiet_NaN());
  Epilogue<T> epilogue{};
  if (cs.fused) epilogue = Epilogue<T>{bias.data(), cs.activation, T(0), {pre->data.data(), cs.m, cs.n, pre->ld}};
  detail::gemm_blocked(kernels, cs.ta, cs.tb, cs.m, cs.n, cs.k, T(cs.alpha), a.data.data(), a.ld, b.data.data(), b.ld,
                       T(cs.beta), c.data.data(), c.ld, epilogue);
  return c;
}

// The case as a failing check reports it.
std::string describe(const Case& cs) {
  std::ostringstream out;
  out << cs.m << "×" << cs.n << "×" << cs.k << " ta " << (cs.ta == Trans::yes) << " tb " << (cs.tb == Trans::yes)
      << " pow2_ld " << cs.pow2_ld << " fused " << cs.fused << " alpha " << cs.alpha << " beta " << cs.beta;
  return out.str();
}

// A case's operands: op(A), op(B) stored as the case transposes them, and a bias of m elements.
template <class T>
struct Operands {
  Stored<T> a, b;
  std::vector<T> bias;
  explicit Operands(const Case& cs)
      : a(cs.ta == Trans::yes ? cs.k : cs.m, cs.ta == Trans::yes ? cs.m : cs.k, cs.pow2_ld, 3 + cs.m + cs.k),
        b(cs.tb == Trans::yes ? cs.n : cs.k, cs.tb == Trans::yes ? cs.k : cs.n, cs.pow2_ld, 5 + cs.n + cs.k),
        bias(test::uniform<T>(cs.m, 7)) {}
};

template <class T>
void check_small(const Case& cs) {
  const std::size_t m = cs.m, n = cs.n, k = cs.k;
  const bool pow2 = cs.pow2_ld, fused = cs.fused;
  const double beta = cs.beta;
  INFO(describe(cs));
  const Operands<T> ops(cs);
  const Stored<T>&a = ops.a, &b = ops.b;
  const std::vector<T>& bias = ops.bias;
  const auto& active = detail::active_gemm_kernels<T>();
  detail::GemmKernels<T> direct = active, packed = active;
  direct.small_kernel = packed.small_kernel = nullptr;
  packed.blocking.direct_max_n = 0;  // every C wider than that: the packed path
  Stored<T> pre_small(m, n, pow2, 1), pre_direct(m, n, pow2, 1), pre_packed(m, n, pow2, 1);
  const Stored<T> small = run(active, cs, a, b, bias, &pre_small);
  CHECK(same_bits(small.data, run(direct, cs, a, b, bias, &pre_direct).data));
  CHECK(same_bits(small.data, run(packed, cs, a, b, bias, &pre_packed).data));
  if (fused) {
    CHECK(same_bits(pre_small.data, pre_direct.data));
    CHECK(same_bits(pre_small.data, pre_packed.data));
    return;
  }
  // Against the reference: every element within rounding, nothing past a row written.
  Stored<T> want(m, n, pow2, 31 + m);
  if (beta == 0) std::fill(want.data.begin(), want.data.end(), std::numeric_limits<T>::quiet_NaN());
  gemm_ref(cs.ta, cs.tb, m, n, k, T(cs.alpha), a.data.data(), a.ld, b.data.data(), b.ld, T(beta), want.data.data(),
           want.ld);
  const double tol =
      4.0 * double(std::numeric_limits<T>::epsilon()) * double(k + 4) * (1.0 + cs.alpha + std::abs(beta));
  std::size_t bad = 0;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < want.ld; ++j) {
      const T got = small.data[i * want.ld + j], expected = want.data[i * want.ld + j];
      if (j < n ? !(std::abs(double(got) - double(expected)) <= tol)
                : !(got == expected || (std::isnan(got) && std::isnan(expected))))
        ++bad;
    }
  CHECK(bad == 0);
}

// The small kernel called directly (every row tile from 1 to MR rows, every masked tail): C and Z
// against the reference with bias and ReLU, nothing past a row written.
template <class T>
void check_small_kernel(const detail::GemmKernels<T>& kernels, const Case& cs) {
  const std::size_t m = cs.m, n = cs.n, k = cs.k;
  const bool ta = cs.ta == Trans::yes, pow2 = cs.pow2_ld, fused = cs.fused;
  const double beta = cs.beta;
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  CAPTURE(ta);
  CAPTURE(pow2);
  CAPTURE(fused);
  CAPTURE(beta);
  const Stored<T> a(ta ? k : m, ta ? m : k, pow2, 3 + m + k), b(k, n, pow2, 5 + n + k);
  const auto bias = test::uniform<T>(m, 7);
  Stored<T> c(m, n, pow2, 31 + m), pre(m, n, pow2, 1), want(m, n, pow2, 31 + m);
  if (beta == 0) {
    std::fill(c.data.begin(), c.data.end(), std::numeric_limits<T>::quiet_NaN());
    want.data = c.data;
  }
  const Stored<T> pre_before = pre;
  const detail::GemmTileEpilogue<T> epilogue{bias.data(), Activation::relu, T(0), pre.data.data(), pre.ld,
                                             Accuracy::fast};
  using Operand = detail::StridedOperand<T>;
  const Operand op_a = ta ? Operand{a.data.data(), 1, a.ld} : Operand{a.data.data(), a.ld, 1};
  kernels.small_kernel(m, n, k, T(cs.alpha), op_a, b.data.data(), b.ld, T(beta), c.data.data(), c.ld,
                       fused ? &epilogue : nullptr);
  gemm_ref(cs.ta, Trans::no, m, n, k, T(cs.alpha), a.data.data(), a.ld, b.data.data(), b.ld, T(beta), want.data.data(),
           want.ld);
  const double tol =
      4.0 * double(std::numeric_limits<T>::epsilon()) * double(k + 4) * (2.0 + cs.alpha + std::abs(beta));
  std::size_t bad = 0;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < c.ld; ++j) {
      const std::size_t at = i * c.ld + j;
      const T got = c.data[at], z = pre.data[at];
      if (j >= n) {
        bad += !(got == want.data[at] || (std::isnan(got) && std::isnan(want.data[at])));
        bad += !(z == pre_before.data[at]);
        continue;
      }
      const double z_want = double(want.data[at]) + (fused ? double(bias[i]) : 0.0);
      bad += !(std::abs(double(got) - (fused ? std::max(z_want, 0.0) : z_want)) <= tol);
      bad += fused ? !(std::abs(double(z) - z_want) <= tol) : !(z == pre_before.data[at]);
    }
  CHECK(bad == 0);
}

// gemm itself (its route straight to the small kernel, or the driver) against gemm_blocked through
// the direct path's kernels (no small kernel): the same bits, C and Z, in both of gemm's forms.
template <class T>
void check_route(const Case& cs) {
  const std::size_t m = cs.m, n = cs.n, k = cs.k;
  const bool pow2 = cs.pow2_ld, fused = cs.fused;
  const double alpha = cs.alpha, beta = cs.beta;
  INFO(describe(cs));
  const Operands<T> ops(cs);
  const Stored<T>&a = ops.a, &b = ops.b;
  const std::vector<T>& bias = ops.bias;
  detail::GemmKernels<T> direct = detail::active_gemm_kernels<T>();
  direct.small_kernel = nullptr;
  Stored<T> pre_want(m, n, pow2, 1), pre_got(m, n, pow2, 1);
  const Stored<T> want = run(direct, cs, a, b, bias, &pre_want);
  Stored<T> got(m, n, pow2, 31 + m);
  if (beta == 0) std::fill(got.data.begin(), got.data.end(), std::numeric_limits<T>::quiet_NaN());
  if (fused) {
    const Epilogue<T> epilogue{bias.data(), cs.activation, T(0), {pre_got.data.data(), m, n, pre_got.ld}};
    gemm<T>(cs.ta, cs.tb, T(alpha), a.view(), b.view(), T(beta), got.view(), epilogue);
    CHECK(same_bits(pre_got.data, pre_want.data));
  } else if ((m + n + k) % 2 == 0) {
    gemm<T>(cs.ta, cs.tb, T(alpha), a.view(), b.view(), T(beta), got.view());
  } else {
    gemm(cs.ta, cs.tb, m, n, k, T(alpha), a.data.data(), a.ld, b.data.data(), b.ld, T(beta), got.data.data(), got.ld);
  }
  CHECK(same_bits(got.data, want.data));
}

// Every form at the edge sizes (kSizes, k of 1, 16, 37), unfused, with `turn` counted up before
// each: ld a power of two every other case, beta 0, 1, −0.5 and alpha 1 or 0.75 in turn.
template <class Body>
void for_each_edge_case(std::size_t& turn, Body&& body) {
  for (Trans ta : kTrans)
    for (Trans tb : kTrans)
      for (std::size_t m : kSizes)
        for (std::size_t n : kSizes)
          for (std::size_t k : {std::size_t(1), std::size_t(16), std::size_t(37)}) {
            ++turn;
            const double beta = turn % 3 == 0 ? 0.0 : turn % 3 == 1 ? 1.0 : -0.5;
            body(Case{ta, tb, m, n, k, turn % 2 == 0, false, beta, turn % 7 < 3 ? 1.0 : 0.75});
          }
}

}  // namespace

TEST_CASE_TEMPLATE("gemm's route to the small kernel gives the driver's bits at every thread count under every ISA", T,
                   float, double) {
  test::for_each_isa([&](Isa) {
    std::size_t turn = 0;
    for (int threads : {1, 2, 3}) {
      const test::ScopedThreads scoped(threads);
      for_each_edge_case(turn, [&](Case cs) {
        // alpha = 0 is not routed (C = beta·C in the driver).
        if (turn % 11 == 0) cs.alpha = 0.0;
        cs.fused = turn % 5 == 0;
        cs.activation = turn % 4 == 0 ? Activation::relu : Activation::gelu;
        check_route<T>(cs);
      });
      // Beyond the single-thread work the route is taken only by a team of one; Aᵀ with lda = 1
      // (m = 1) is not the skinny kernel's axpy form; the largest problems the kernel takes.
      check_route<T>({Trans::no, Trans::no, 100, 100, 100, false, false, 0.0, 1.0});
      check_route<T>({Trans::yes, Trans::no, 100, 90, 101, true, true, 1.0, 0.75, Activation::relu});
      check_route<T>({Trans::yes, Trans::no, 1, 33, 17, false, false, 0.0, 1.0});
      check_route<T>({Trans::no, Trans::no, 64, 100, 64, false, true, -0.5, 1.0, Activation::sigmoid});
    }
  });
}

TEST_CASE_TEMPLATE("gemm's route to the small kernel still rejects bad arguments", T, float, double) {
  std::vector<T> buf(64 * 64, T(1));
  const MatrixView<const T> a{buf.data(), 16, 16, 16}, b{buf.data() + 256, 16, 32, 32};
  // C over B, C with ld < cols, shapes that do not match: the full checks run and throw.
  CHECK_THROWS_AS(gemm<T>(Trans::no, Trans::no, T(1), a, b, T(0), MatrixView<T>{buf.data() + 512, 16, 32, 32}),
                  Error);
  CHECK_THROWS_AS(gemm<T>(Trans::no, Trans::no, T(1), a, b, T(0), MatrixView<T>{buf.data() + 1024, 16, 32, 31}),
                  Error);
  CHECK_THROWS_AS(gemm<T>(Trans::no, Trans::no, T(1), a, b, T(0), MatrixView<T>{buf.data() + 1024, 15, 32, 32}),
                  Error);
  CHECK_THROWS_AS(gemm<T>(Trans::no, Trans::no, 16, 32, 16, T(1), buf.data(), 16, buf.data() + 256, 32, T(0),
                          buf.data() + 300, 32),
                  Error);
  CHECK_THROWS_AS(gemm<T>(Trans::no, Trans::no, 16, 32, 16, T(1), buf.data(), 15, buf.data() + 256, 32, T(0),
                          buf.data() + 1024, 32),
                  Error);
  gemm<T>(Trans::no, Trans::no, T(1), a, b, T(0), MatrixView<T>{buf.data() + 1024, 16, 32, 32});
  CHECK(buf[1024] == T(16));
}

TEST_CASE_TEMPLATE("the small gemm kernel matches the reference at every row tile and column tail", T, float,
                   double) {
  test::for_each_isa([&](Isa isa) {
    const auto& kernels = detail::active_gemm_kernels<T>();
    // AVX-512 has the kernel (its masked tails); the other ISAs have none and gemm never asks for it.
    REQUIRE((kernels.small_kernel != nullptr) == (isa == Isa::avx512));
    if (kernels.small_kernel == nullptr) return;
    std::size_t turn = 0;
    for (Trans ta : kTrans)
      // 10–13, 24, 25: balanced tiles of unequal rows (13 = 7 + 6, 25 = 7 + 3 × 6). n from 32
      // (double) and 64 (float): whole slivers of the wide tile, then the MR × NR tile's columns.
      for (std::size_t m : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 24, 25, 33})
        for (std::size_t n : {1, 2, 3, 8, 15, 16, 17, 24, 25, 31, 32, 33, 47, 48, 49, 63, 64, 65, 80, 129})
          for (std::size_t k : {std::size_t(0), std::size_t(1), std::size_t(16), std::size_t(37)}) {
            ++turn;
            const double beta = turn % 3 == 0 ? 0.0 : turn % 3 == 1 ? 1.0 : -0.5;
            const double alpha = turn % 5 < 2 ? 1.0 : 0.75;
            check_small_kernel<T>(kernels, {ta, Trans::no, m, n, k, turn % 2 == 0, turn % 4 < 2, beta, alpha});
          }
  });
}

TEST_CASE_TEMPLATE("the small gemm path matches the reference and gives the direct and packed paths' bits", T, float,
                   double) {
  test::for_each_isa([&](Isa) {
    std::size_t turn = 0;
    for_each_edge_case(turn, [&](Case cs) {
      check_small<T>(cs);
      cs.pow2_ld = !cs.pow2_ld;
      cs.fused = true;
      cs.activation = turn % 10 == 0 ? Activation::relu : Activation::gelu;
      if (turn % 5 == 0) check_small<T>(cs);
    });
    // The largest problems the path takes, and k = 0 (C = beta·C).
    check_small<T>({Trans::no, Trans::no, 100, 100, 100, false, false, 1.0});
    check_small<T>({Trans::yes, Trans::yes, 64, 100, 101, true, true, 0.0});
    check_small<T>({Trans::no, Trans::no, 64, 100, 64, false, true, 1.0, 1.0, Activation::relu});
    check_small<T>({Trans::no, Trans::no, 17, 33, 0, false, false, -0.5});
    // Whole slivers of the wide tile and the last columns through the MR × NR tile, fused.
    check_small<T>({Trans::no, Trans::no, 24, 129, 20, true, true, 1.0, 0.75, Activation::relu});
    check_small<T>({Trans::yes, Trans::no, 13, 80, 37, false, true, 0.0, 1.0, Activation::gelu});
    check_small<T>({Trans::no, Trans::yes, 11, 64, 64, false, true, -0.5, 1.0, Activation::tanh});
    // Float C of one vector (9–16 columns: fewer go to the skinny kernel) over 9 row tiles
    // (70 = 7 × 8 + 2 × 7), every form.
    for (Trans ta : kTrans)
      for (Trans tb : kTrans) {
        check_small<T>({ta, tb, 70, 16, 33, false, false, 0.0});
        check_small<T>({ta, tb, 70, 13, 33, true, true, 1.0, 0.75, Activation::relu});
      }
  });
}
