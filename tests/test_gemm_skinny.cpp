// The skinny path of gemm (C with a few columns, or a few rows): batch-1 to batch-16 layers forward
// (W·X) and backward (Wᵀ·δ, δ·Xᵀ), against the reference under every ISA, at the edge sizes of its
// tiles, with leading dimensions equal to the row and a power of two, and with the fused epilogue.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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
// 4: one whole group of the quad form; 5 and 9: the fewest columns of the double and float rank-1
// forms; 8 and 9: one and two double vectors a row there; 7, 15: the transposing store's last group
constexpr std::size_t kShort[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17};
constexpr auto kActivations = enum_values<Activation>();

using test::Stored;

struct Case {
  Trans ta, tb;
  std::size_t m, n, k;
  bool pow2_ld;
  double alpha, beta;
};

template <class T>
void check_skinny(const Case& cs) {
  CAPTURE(cs.m);
  CAPTURE(cs.n);
  CAPTURE(cs.k);
  CAPTURE(cs.ta == Trans::yes);
  CAPTURE(cs.tb == Trans::yes);
  CAPTURE(cs.pow2_ld);
  CAPTURE(cs.beta);
  const bool ta = cs.ta == Trans::yes, tb = cs.tb == Trans::yes;
  const Stored<T> a(ta ? cs.k : cs.m, ta ? cs.m : cs.k, cs.pow2_ld, 3 + cs.m + cs.k);
  const Stored<T> b(tb ? cs.n : cs.k, tb ? cs.k : cs.n, cs.pow2_ld, 5 + cs.n * 7 + cs.k);
  Stored<T> c(cs.m, cs.n, cs.pow2_ld, 9 + cs.m * cs.n);
  if (cs.beta == 0) std::fill(c.data.begin(), c.data.end(), std::numeric_limits<T>::quiet_NaN());
  Stored<T> want = c;
  gemm_ref(cs.ta, cs.tb, cs.m, cs.n, cs.k, T(cs.alpha), a.data.data(), a.ld, b.data.data(), b.ld, T(cs.beta),
           want.data.data(), want.ld);
  gemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, T(cs.alpha), a.data.data(), a.ld, b.data.data(), b.ld, T(cs.beta),
       c.data.data(), c.ld);
  const double tol =
      4.0 * double(std::numeric_limits<T>::epsilon()) * double(cs.k + 4) * (std::abs(cs.alpha) + std::abs(cs.beta) + 1);
  std::size_t bad = 0, touched = 0;
  for (std::size_t i = 0; i < cs.m; ++i)
    for (std::size_t j = 0; j < c.ld; ++j) {
      const T got = c.data[i * c.ld + j], expected = want.data[i * c.ld + j];
      if (j < cs.n && !(std::abs(double(got) - double(expected)) <= tol)) ++bad;
      // Past the row, C is never written.
      if (j >= cs.n && !(got == expected || (std::isnan(got) && std::isnan(expected)))) ++touched;
    }
  CHECK(bad == 0);
  CHECK(touched == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("skinny gemm matches the reference for every transpose, ISA, edge size and ld", T, float, double) {
  test::for_each_isa([&](Isa) {
    // 5, 7, 13: a 6-row dot tile (AVX-512 float, 4 columns, k > 128) ± 1 and two tiles + 1
    const std::size_t long_sizes[] = {1, 2, 3, 5, 7, 13, 15, 16, 17, 100, 300};
    const std::size_t depths[] = {1, 7, 64, 257};
    const double alphas[] = {1.0, -0.5, 2.0};
    const double betas[] = {0.0, 1.0, -1.5};
    std::size_t turn = 0;
    for (Trans ta : kTrans)
      for (Trans tb : kTrans)
        for (std::size_t s : kShort)
          for (std::size_t l : long_sizes)
            for (std::size_t k : depths) {
              ++turn;
              const bool pow2 = turn % 2 == 0;
              const double alpha = alphas[turn % 3], beta = betas[(turn / 3) % 3];
              check_skinny<T>({ta, tb, l, s, k, pow2, alpha, beta});  // few columns
              check_skinny<T>({ta, tb, s, l, k, !pow2, alpha, beta});  // few rows
            }
    // The quad form's packing (AVX-512 float, k ≤ 128) 16 k steps at a time, then 4, then the rest.
    for (Trans tb : kTrans)
      for (std::size_t s : {3, 4, 8})
        for (std::size_t k : {16, 20, 23, 48, 100, 128}) {
          check_skinny<T>({Trans::no, tb, 17, s, k, k % 2 == 0, -0.5, 0.0});
          check_skinny<T>({Trans::no, tb, 5, s, k, k % 2 == 1, 2.0, 1.0});
        }
    // Long operands past 2^18 elements: 4-row dot tiles for 4 columns (6 rows below, AVX-512 float).
    for (Trans tb : kTrans) {
      check_skinny<T>({Trans::no, tb, 1027, 4, 257, false, 1.0, 0.0});
      check_skinny<T>({Trans::no, tb, 1027, 4, 257, true, -0.5, 1.0});
    }
    // One column with the long operand past 2^13 elements: 4-row dot tiles (AVX-512), the last one
    // short (303 = 75·4 + 3, 1027 = 256·4 + 3), across the 256-row work items; at 2^13 exactly
    // (128 × 64) still the wide tile.
    for (Trans tb : kTrans)
      for (std::size_t l : {128, 129, 303, 1027}) {
        check_skinny<T>({Trans::no, tb, l, 1, 64, l % 2 == 0, 1.0, 0.0});
        check_skinny<T>({Trans::no, tb, l, 1, 33, l % 2 == 1, -0.5, 1.0});
      }
  });
}

TEST_CASE_TEMPLATE("the rank-1 form (Aᵀ·B, AVX-512) matches the reference at every width it takes", T, float, double) {
  // Past skinny_max columns Aᵀ·B takes the skinny path only above skinny_axpy_min_work (1100·n·130
  // is above every row's; 33·n·7 only above the Intel float row's 0): every width from 5 (double,
  // one vector a row) through 9 (double: two vectors a row) to 16, and 17 (not skinny); 1100 rows
  // end in tiles of 8 and 4 (1100 = 68·16 + 12), 130 k steps in a short panel (130 = 2·64 + 2).
  test::for_each_isa([&](Isa) {
    for (std::size_t s = 5; s <= 17; ++s)
      for (const double beta : {0.0, -1.5}) {
        check_skinny<T>({Trans::yes, Trans::no, 1100, s, 130, s % 2 == 0, -0.5, beta});
        check_skinny<T>({Trans::yes, Trans::no, 33, s, 7, s % 2 == 1, 2.0, beta});  // double 5-8: 2·16 + 1 rows
      }
  });
}

TEST_CASE_TEMPLATE("the skinny path's fused epilogue equals gemm followed by bias and activation, in both tiers", T, float,
                   double) {
  test::for_each_isa([&](Isa) {
    struct Shape {
      std::size_t m, n, k;
    };
    for (Trans ta : kTrans)
      for (const Shape s : {Shape{37, 1, 19}, Shape{300, 3, 40}, Shape{2, 45, 33}, Shape{16, 17, 5},
                            Shape{300, 12, 70}, Shape{200, 6, 70},
                            Shape{1100, 12, 80}}) {  // 12 columns: the rank-1 form above small_max_work
        CAPTURE(s.m);
        CAPTURE(s.n);
        const bool t = ta == Trans::yes;
        const Stored<T> a(t ? s.k : s.m, t ? s.m : s.k, false, 21), b(s.k, s.n, true, 22);
        const auto bias = test::uniform<T>(s.m, 23);
        const Stored<T> c0(s.m, s.n, false, 24);
        Stored<T> unfused = c0;
        gemm(ta, Trans::no, T(0.75), a.view(), b.view(), T(-0.5), unfused.view());
        for (Accuracy accuracy : enum_values<Accuracy>())
          for (Activation f : kActivations) {
            CAPTURE(static_cast<int>(f));
            CAPTURE(accuracy_name(accuracy));
            Stored<T> fused = c0, pre(s.m, s.n, true, 25);
            gemm(ta, Trans::no, T(0.75), a.view(), b.view(), T(-0.5), fused.view(),
                 Epilogue<T>{bias.data(), f, T(0.125), pre.view(), accuracy});
            const std::size_t bad = test::fused_epilogue_mismatches(
                s.m, s.n, unfused.data.data(), unfused.ld, bias.data(), fused.data.data(), fused.ld, pre.data.data(),
                pre.ld, [&](const T* z, T* y, std::size_t n) { activation_forward(f, accuracy, z, y, n, T(0.125)); });
            CHECK(bad == 0);
            // pre_activation may be C itself.
            Stored<T> in_place = c0;
            gemm(ta, Trans::no, T(0.75), a.view(), b.view(), T(-0.5), in_place.view(),
                 Epilogue<T>{bias.data(), f, T(0.125), in_place.view(), accuracy});
            CHECK(in_place.data == fused.data);
          }
      }
  });
}

TEST_CASE_TEMPLATE("Aᵀ·x and xᵀ·B past L2 (rows read whole) give the bits of the strips form at any thread count", T,
                   float, double) {
  // One short column in the axpy form with the long operand past SkinnyStream::min_bytes: its rows
  // are read whole (AVX-512), in items of up to SkinnyStream::item long elements (2100: one item and
  // a short one, its last vector masked). Column blocks of 300 are below the limit and take the
  // strips of axpy_block; each element is the same sum in the same order either way.
  constexpr std::size_t kLong = 2100, kDepth = sizeof(T) == 4 ? 201 : 101;  // odd: a last even step
  static_assert(kLong * kDepth * sizeof(T) > detail::SkinnyStream::min_bytes);
  static_assert(300 * kDepth * sizeof(T) <= detail::SkinnyStream::min_bytes);
  test::for_each_isa([&](Isa) {
    const Stored<T> a(kDepth, kLong, false, 51), x(kDepth, 1, false, 52), xt(1, kDepth, false, 53);
    const auto bias = test::uniform<T>(kLong, 54);
    for (const bool fused : {false, true}) {
      CAPTURE(fused);
      const Epilogue<T> none{};
      Stored<T> want(kLong, 1, false, 55), want_t(1, kLong, false, 56);
      for (std::size_t c0 = 0; c0 < kLong; c0 += 300) {
        const MatrixView<const T> block{a.data.data() + c0, kDepth, 300, a.ld};
        const Epilogue<T> e = fused ? Epilogue<T>{bias.data() + c0, Activation::gelu} : none;
        gemm(Trans::yes, Trans::no, T(0.75), block, x.view(), T(-0.5),
             MatrixView<T>{want.data.data() + c0 * want.ld, 300, 1, want.ld}, e);
        // xᵀ·B: the bias runs along C's rows, one element here.
        gemm(Trans::no, Trans::no, T(0.75), xt.view(), block, T(-0.5),
             MatrixView<T>{want_t.data.data() + c0, 1, 300, want_t.ld},
             fused ? Epilogue<T>{bias.data(), Activation::tanh} : none);
      }
      for (int threads : {1, 2, 3}) {
        CAPTURE(threads);
        const test::ScopedThreads scoped(threads);
        Stored<T> got(kLong, 1, false, 55), got_t(1, kLong, false, 56);
        gemm(Trans::yes, Trans::no, T(0.75), a.view(), x.view(), T(-0.5), got.view(),
             fused ? Epilogue<T>{bias.data(), Activation::gelu} : none);
        gemm(Trans::no, Trans::no, T(0.75), xt.view(), a.view(), T(-0.5), got_t.view(),
             fused ? Epilogue<T>{bias.data(), Activation::tanh} : none);
        CHECK(std::memcmp(got.data.data(), want.data.data(), want.data.size() * sizeof(T)) == 0);
        CHECK(std::memcmp(got_t.data.data(), want_t.data.data(), want_t.data.size() * sizeof(T)) == 0);
      }
    }
  });
}

TEST_CASE_TEMPLATE("the quad form's store into C gives the bits of its store through z: A·Bᵀ equals (B·Aᵀ)ᵀ", T, float,
                   double) {
  // C (l × s) = B·Aᵀ has few columns: on AVX-512 float (k ≤ 128, 3–8 columns) its quad tiles store
  // into C by rows. Cᵀ (s × l) = A·Bᵀ has few rows: the same sums go through z and finish_chunk.
  // Both read the same operands in the same order, so they must agree bit for bit, epilogue included.
  test::for_each_isa([&](Isa) {
    std::size_t turn = 0;
    for (std::size_t s : {3, 4, 5, 6, 7, 8})
      for (std::size_t l : {9, 13, 16, 17, 100, 300})
        for (std::size_t k : {1, 5, 16, 64, 128}) {
          ++turn;
          CAPTURE(s);
          CAPTURE(l);
          CAPTURE(k);
          const bool pow2 = turn % 2 == 0;
          const T alpha = turn % 3 == 0 ? T(1) : T(-0.75), beta = turn % 4 == 0 ? T(0) : T(0.5);
          const Activation f = std::array{Activation::identity, Activation::relu, Activation::tanh}[turn % 3];
          const Stored<T> a(s, k, pow2, 31 + s + k), b(l, k, !pow2, 37 + l + k);
          Stored<T> c(l, s, pow2, 41 + l * s), ct(s, l, !pow2, 0), pre(l, s, !pow2, 43), pre_t(s, l, pow2, 47);
          for (std::size_t i = 0; i < l; ++i)
            for (std::size_t j = 0; j < s; ++j) ct.data[j * ct.ld + i] = c.data[i * c.ld + j];
          gemm(Trans::no, Trans::yes, alpha, b.view(), a.view(), beta, c.view(), Epilogue<T>{nullptr, f, T(0.125), pre.view()});
          gemm(Trans::no, Trans::yes, alpha, a.view(), b.view(), beta, ct.view(),
               Epilogue<T>{nullptr, f, T(0.125), pre_t.view()});
          std::size_t differ = 0;
          for (std::size_t i = 0; i < l; ++i)
            for (std::size_t j = 0; j < s; ++j) {
              differ += std::memcmp(&c.data[i * c.ld + j], &ct.data[j * ct.ld + i], sizeof(T)) != 0;
              differ += std::memcmp(&pre.data[i * pre.ld + j], &pre_t.data[j * pre_t.ld + i], sizeof(T)) != 0;
            }
          CHECK(differ == 0);
        }
  });
}
