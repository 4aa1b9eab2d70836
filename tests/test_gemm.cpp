#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "kernels/gemm/gemm_kernels.hpp"
#include "kernels/gemm/gemm_ref.hpp"
#include "mlpkit/mlpkit.hpp"
#include "test_support.hpp"

using namespace mlpkit;

namespace {

// A stored operand of rows × cols with a leading dimension larger than its row (odd padding).
template <class T>
struct Operand {
  std::size_t rows, cols, ld;
  std::vector<T> data;
  Operand(std::size_t r, std::size_t c, std::size_t pad, std::uint64_t seed)
      : rows(r), cols(c), ld(c + pad), data(test::uniform<T>(std::max<std::size_t>(r * (c + pad), 1), seed)) {}
  MatrixView<const T> view() const { return {data.data(), rows, cols, ld}; }
  MatrixView<T> view() { return {data.data(), rows, cols, ld}; }
};

template <class T>
double tolerance(std::size_t k) {
  return 4.0 * double(std::numeric_limits<T>::epsilon()) * double(k + 4);
}

struct Case {
  Trans ta, tb;
  std::size_t m, n, k;
  double alpha, beta;
};

// Runs gemm and gemm_ref on the same data and compares elementwise; C starts NaN when beta = 0.
template <class T>
void check_against_reference(const Case& cs) {
  CAPTURE(cs.m);
  CAPTURE(cs.n);
  CAPTURE(cs.k);
  CAPTURE(cs.alpha);
  CAPTURE(cs.beta);
  CAPTURE(cs.ta == Trans::yes);
  CAPTURE(cs.tb == Trans::yes);
  const Operand<T> a(cs.ta == Trans::no ? cs.m : cs.k, cs.ta == Trans::no ? cs.k : cs.m, 3, 1 + cs.m * 7 + cs.k);
  const Operand<T> b(cs.tb == Trans::no ? cs.k : cs.n, cs.tb == Trans::no ? cs.n : cs.k, 5, 2 + cs.n * 3 + cs.k);
  Operand<T> c(cs.m, cs.n, 2, 3 + cs.m + cs.n);
  if (cs.beta == 0) std::fill(c.data.begin(), c.data.end(), std::numeric_limits<T>::quiet_NaN());
  Operand<T> expected = c;
  gemm_ref(cs.ta, cs.tb, cs.m, cs.n, cs.k, T(cs.alpha), a.data.data(), a.ld, b.data.data(), b.ld, T(cs.beta),
           expected.data.data(), expected.ld);
  gemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, T(cs.alpha), a.data.data(), a.ld, b.data.data(), b.ld, T(cs.beta), c.data.data(),
       c.ld);
  const double tol = tolerance<T>(cs.k) * (std::abs(cs.alpha) + std::abs(cs.beta) + 1.0);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < cs.m; ++i)
    for (std::size_t j = 0; j < cs.n; ++j) {
      const double got = c.data[i * c.ld + j], want = expected.data[i * c.ld + j];
      if (!(std::abs(got - want) <= tol)) ++bad;
    }
  CHECK(bad == 0);
  // The padding past each row of C is never written.
  for (std::size_t i = 0; i + 1 < cs.m; ++i)
    for (std::size_t j = cs.n; j < c.ld; ++j)
      if (!(c.data[i * c.ld + j] == expected.data[i * c.ld + j] || std::isnan(c.data[i * c.ld + j]))) ++bad;
  CHECK(bad == 0);
}

constexpr Trans kTrans[] = {Trans::no, Trans::yes};

// Sizes that cross every edge of the active ISA's tiles and blocks.
template <class T>
std::vector<std::size_t> edge_sizes() {
  const auto& kernels = detail::active_gemm_kernels<T>();
  const auto& bl = kernels.blocking;
  return {0,  1,  2,  3,  5,   7,   bl.mr - 1, bl.mr + 1, bl.nr - 1, bl.nr + 1,
          kernels.wide_mr - 1, kernels.wide_mr + 1, kernels.wide_nr - 1, kernels.wide_nr + 1,
          31, 33, 63, 65, 127, 129, 257,       bl.kc - 1, bl.kc + 1};
}

}  // namespace

TEST_CASE("gemm_ref computes a small product by hand") {
  // [1 2; 3 4]·[5 6; 7 8] = [19 22; 43 50]; with alpha = 2, beta = 1 over C = 1.
  const double a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  double c[] = {1, 1, 1, 1};
  gemm_ref(Trans::no, Trans::no, 2, 2, 2, 2.0, a, 2, b, 2, 1.0, c, 2);
  CHECK(c[0] == 39);
  CHECK(c[1] == 45);
  CHECK(c[2] == 87);
  CHECK(c[3] == 101);
  double ct[] = {0, 0, 0, 0};
  gemm_ref(Trans::yes, Trans::yes, 2, 2, 2, 1.0, a, 2, b, 2, 0.0, ct, 2);  // Aᵀ·Bᵀ = (B·A)ᵀ
  CHECK(ct[0] == 23);
  CHECK(ct[1] == 31);
  CHECK(ct[2] == 34);
  CHECK(ct[3] == 46);
}

TEST_CASE_TEMPLATE("gemm matches the reference for every transpose, every ISA and every edge size", T, float, double) {
  test::for_each_isa([&](Isa) {
    const auto sizes = edge_sizes<T>();
    const std::size_t count = sizes.size();
    const double alphas[] = {1.0, -0.5, 2.0, 1.0};
    const double betas[] = {0.0, 1.0, -1.5, 0.25};
    for (Trans ta : kTrans)
      for (Trans tb : kTrans)
        // Each size appears as m, as n and as k, against rotating partners (not the full cube).
        for (std::size_t s = 0; s < count; ++s) {
          const std::size_t x = sizes[s];
          std::size_t y = sizes[(s * 5 + 3) % count], z = sizes[(s * 7 + 11) % count];
          // Keep the reference cheap: two large partners of a large size become one small one.
          if (x * y * z > (std::size_t(1) << 18)) y = sizes[s % 8];
          const double alpha = alphas[s % 4], beta = betas[(s / 2) % 4];
          check_against_reference<T>({ta, tb, x, y, z, alpha, beta});
          check_against_reference<T>({ta, tb, z, x, y, alpha, beta});
          check_against_reference<T>({ta, tb, y, z, x, alpha, beta});
        }
  });
}

TEST_CASE_TEMPLATE("gemm crosses the MC, KC and NC blocks of the packed path correctly", T, float, double) {
  test::for_each_isa([&](Isa) {
    const auto& bl = detail::active_gemm_kernels<T>().blocking;
    for (Trans ta : kTrans)
      for (Trans tb : kTrans) {
        // Deeper than the direct path takes, so the packed path runs: MC + 1 rows, several KC blocks.
        check_against_reference<T>({ta, tb, bl.mc + 1, 2 * bl.nr + 3, bl.direct_max_k + bl.kc + 1, 1.0, 0.5});
        // More rows than the direct path takes, in C wider than one sliver of its widest tile.
        check_against_reference<T>({ta, tb, bl.direct_max_m + 1, 4 * bl.nr + 3, bl.kc - 1, -1.0, 0.0});
      }
    check_against_reference<T>({Trans::no, Trans::no, bl.direct_max_m + 3, bl.nc + 1, 5, 1.0, 0.0});
    // Packed A is capped at 2^22 elements: a tall, deep A goes in several row super-blocks.
    check_against_reference<T>({Trans::yes, Trans::no, bl.mc + bl.direct_max_m + 1, 3, 25000, 1.0, -1.0});
    check_against_reference<T>({Trans::no, Trans::yes, 7, bl.nc + bl.nr + 1, bl.direct_max_k + 1, 1.0, 0.0});
    // Where the direct path is limited in columns too (avx512 double): one column past the limit
    // takes the packed path, the limit itself the direct one.
    if (bl.direct_max_n != ~std::size_t{0})
      for (Trans ta : kTrans) {
        check_against_reference<T>({ta, Trans::no, 9, bl.direct_max_n + 1, 33, 1.0, 0.5});
        check_against_reference<T>({ta, Trans::yes, 9, bl.direct_max_n, 33, 1.0, 0.5});
      }
  });
}

TEST_CASE_TEMPLATE("op(B) = Bᵀ is copied into rows and packed into slivers element for element, under every ISA", T,
                   float, double) {
  // Sizes around the AVX-512 transpose's W × W blocks (W = 16 float, 8 double) and the slivers' NR
  // (pack_b[0]) and wide_nr (pack_b[1], up to 64): tails of k and of n in every combination, and a
  // source row longer than k.
  const std::size_t sizes[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 65};
  test::for_each_isa([&](Isa) {
    const auto& kernels = detail::active_gemm_kernels<T>();
    for (std::size_t k : sizes)
      for (std::size_t n : sizes) {
        CAPTURE(k);
        CAPTURE(n);
        const std::size_t ld = k + 3;  // B stored n × k, op(B) = Bᵀ: element (p, j) at b[j·ld + p]
        const std::vector<T> b = test::uniform<T>(n * ld, 31);
        const detail::StridedOperand<T> op_b{b.data(), 1, ld};
        std::vector<T> rows(k * n + 5, T(-7));
        kernels.copy_b_rows(k, n, op_b, rows.data());
        std::size_t wrong = 0;
        for (std::size_t j = 0; j < n; ++j)
          for (std::size_t p = 0; p < k; ++p)
            if (rows[p * n + j] != b[j * ld + p]) ++wrong;
        CHECK(wrong == 0);
        CHECK(std::all_of(rows.end() - 5, rows.end(), [](T v) { return v == T(-7); }));  // nothing past the copy
        for (const bool wide : {false, true}) {
          CAPTURE(wide);
          const std::size_t nr = wide ? kernels.wide_nr : kernels.blocking.nr;
          const std::size_t slivers = (n + nr - 1) / nr;
          std::vector<T> packed(slivers * nr * k + 5, T(-7));
          kernels.pack_b[wide](k, n, op_b, packed.data());
          wrong = 0;
          for (std::size_t p = 0; p < k; ++p)
            for (std::size_t j = 0; j < slivers * nr; ++j)
              if (packed[(j / nr) * nr * k + p * nr + j % nr] != (j < n ? b[j * ld + p] : T(0))) ++wrong;
          CHECK(wrong == 0);
          CHECK(std::all_of(packed.end() - 5, packed.end(), [](T v) { return v == T(-7); }));
        }
      }
  });
}

TEST_CASE_TEMPLATE("the direct path gives the same bits whether it reads B in place or packs its slivers", T, float,
                   double) {
  // Which of the two the direct path takes depends on the rows and the CPU (direct_in_place_max_m);
  // both run the same K loop, so forcing each on the same problem must give the same bits, for
  // every transpose of A and with row groups split over threads.
  test::ScopedThreads threads(3);
  test::for_each_isa([&](Isa) {
    const auto& active = detail::active_gemm_kernels<T>();
    detail::GemmKernels<T> in_place = active, packed = active;
    in_place.blocking.direct_in_place_max_m = active.blocking.direct_max_m;
    packed.blocking.direct_in_place_max_m = 0;
    const std::size_t nr = active.blocking.nr;
    for (Trans ta : kTrans)
      for (std::size_t m : {std::size_t(1), std::size_t(7), std::size_t(33), std::size_t(200)})
        for (std::size_t n : {nr, active.wide_nr, 3 * nr + 5})
          for (std::size_t k : {std::size_t(1), std::size_t(7), active.blocking.kc + 1}) {
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            const Operand<T> a(ta == Trans::no ? m : k, ta == Trans::no ? k : m, 1, 11 + k), b(k, n, 2, 13 + n);
            Operand<T> c1(m, n, 0, 1), c2(m, n, 0, 2);
            detail::gemm_blocked(in_place, ta, Trans::no, m, n, k, T(1), a.data.data(), a.ld, b.data.data(), b.ld,
                                 T(0), c1.data.data(), c1.ld, Epilogue<T>{});
            detail::gemm_blocked(packed, ta, Trans::no, m, n, k, T(1), a.data.data(), a.ld, b.data.data(), b.ld,
                                 T(0), c2.data.data(), c2.ld, Epilogue<T>{});
            CHECK(std::equal(c1.data.begin(), c1.data.end(), c2.data.begin()));
          }
    // The public gemm on either side of the default limit agrees with the reference.
    const std::size_t limit = std::min(active.blocking.direct_in_place_max_m, active.blocking.direct_max_m - 1);
    check_against_reference<T>({Trans::no, Trans::no, limit, 3 * nr + 5, 300, 1.0, 0.0});
    check_against_reference<T>({Trans::no, Trans::no, limit + 1, 3 * nr + 5, 300, 1.0, 0.0});
  });
}

TEST_CASE_TEMPLATE("the blocks chosen per CPU change no bits: MC, and direct or packed within one K block", T, float,
                   double) {
  // gemm_kernels gives Intel's avx512 cores a smaller MC and a narrower direct path than AMD's. MC
  // only regroups rows, and up to one K block the direct and packed paths run the same K loop and
  // the same store, so either choice must give the same bits, with rows and columns split over threads.
  // So must the register tile: the wide tile where C is wide enough, or MR × NR everywhere (wide_nr
  // set to NR), in the direct path and in the packed one. n = 17·NR − 3 takes the wide tile on AVX-512
  // although it pads C to 18·NR columns where MR × NR pads it to 17·NR (wide_tile allows 1/16 more).
  test::ScopedThreads threads(3);
  test::for_each_isa([&](Isa) {
    const auto& active = detail::active_gemm_kernels<T>();
    const std::size_t mr = active.blocking.mr, nr = active.blocking.nr, kc = active.blocking.kc;
    detail::GemmKernels<T> packed = active;
    packed.blocking.direct_max_n = 0;  // every C wider than that: the packed path
    detail::GemmKernels<T> other_mc = packed;
    other_mc.blocking.mc = active.blocking.mc == 6 * mr ? 24 * mr : 6 * mr;
    detail::GemmKernels<T> narrow_direct = active;
    narrow_direct.wide_mr = mr;
    narrow_direct.wide_nr = nr;
    detail::GemmKernels<T> narrow_packed = packed;
    narrow_packed.wide_mr = mr;
    narrow_packed.wide_nr = nr;
    constexpr int kTables = 5;
    const detail::GemmKernels<T>* tables[kTables] = {&active, &other_mc, &packed, &narrow_direct, &narrow_packed};
    for (Trans ta : kTrans)
      for (std::size_t m : {std::size_t(1), std::size_t(37), 12 * mr + 5})
        for (std::size_t n : {nr, 2 * nr + 3, active.wide_nr, std::size_t(300), 17 * nr - 3})
          for (std::size_t k : {std::size_t(7), kc}) {
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            const Operand<T> a(ta == Trans::no ? m : k, ta == Trans::no ? k : m, 1, 17 + k), b(k, n, 2, 19 + n);
            std::vector<Operand<T>> c(kTables, Operand<T>(m, n, 0, 5));  // the same C
            for (int t = 0; t < kTables; ++t)
              detail::gemm_blocked(*tables[t], ta, Trans::no, m, n, k, T(0.75), a.data.data(), a.ld, b.data.data(),
                                   b.ld, T(0.5), c[t].data.data(), c[t].ld, Epilogue<T>{});
            for (int t = 1; t < kTables; ++t) {
              CAPTURE(t);
              CHECK(std::equal(c[0].data.begin(), c[0].data.end(), c[t].data.begin()));
            }
          }
  });
}

TEST_CASE_TEMPLATE("the packed path splits K into blocks of equal length", T, float, double) {
  // K = 2·KC − 2 runs as two blocks of KC − 1 (not KC and KC − 2): the bits of two calls of KC − 1
  // steps each, the second adding into the first's C (beta = 1). MR × NR and the wide tile, on 3
  // threads, every transpose of A, under every ISA.
  test::ScopedThreads threads(3);
  test::for_each_isa([&](Isa) {
    detail::GemmKernels<T> packed = detail::active_gemm_kernels<T>();
    packed.blocking.direct_max_n = 0;  // every C wider than that: the packed path
    const std::size_t kc = packed.blocking.kc, half = kc - 1, k = 2 * half, m = 12 * packed.blocking.mr + 5;
    // Wider than the skinny kernel takes (it runs K in one loop): MR × NR's columns, and the wide tile's.
    const std::size_t wider = packed.blocking.skinny_max + 1, wide = packed.wide_nr;
    for (Trans ta : kTrans)
      for (std::size_t n : {wider + packed.blocking.nr + 3, (wider + wide - 1) / wide * wide}) {
        CAPTURE(ta);
        CAPTURE(n);
        const Operand<T> a(ta == Trans::no ? m : k, ta == Trans::no ? k : m, 3, 23), b(k, n, 1, 29);
        // A's columns from `half` on, and B's rows from `half` on.
        const T* a_rest = a.data.data() + (ta == Trans::no ? half : half * a.ld);
        const T* b_rest = b.data.data() + half * b.ld;
        Operand<T> whole(m, n, 2, 31), split = whole;
        detail::gemm_blocked(packed, ta, Trans::no, m, n, k, T(0.75), a.data.data(), a.ld, b.data.data(), b.ld, T(0.5),
                             whole.data.data(), whole.ld, Epilogue<T>{});
        detail::gemm_blocked(packed, ta, Trans::no, m, n, half, T(0.75), a.data.data(), a.ld, b.data.data(), b.ld,
                             T(0.5), split.data.data(), split.ld, Epilogue<T>{});
        detail::gemm_blocked(packed, ta, Trans::no, m, n, half, T(0.75), a_rest, a.ld, b_rest, b.ld, T(1),
                             split.data.data(), split.ld, Epilogue<T>{});
        CHECK(std::equal(whole.data.begin(), whole.data.end(), split.data.begin()));
      }
  });
}

TEST_CASE_TEMPLATE("a C of one sliver takes the direct path at any number of rows, and is right there", T, float,
                   double) {
  // The direct path reads A once for a C of one sliver (at most the NR columns of the tile it runs),
  // so it takes such a C past direct_max_m rows. Over more than one K block its sums are not the
  // packed path's, so the bits tell which path ran: the default route must give the bits of a
  // table whose direct path has no row limit, and the packed path (forced) others. Rows split over
  // threads, fused and plain, every transpose of A.
  test::ScopedThreads threads(3);
  test::for_each_isa([&](Isa) {
    const auto& active = detail::active_gemm_kernels<T>();
    const detail::GemmBlocking& bl = active.blocking;
    detail::GemmKernels<T> direct = active, packed = active;
    direct.blocking.direct_max_m = ~std::size_t{0};
    packed.blocking.direct_max_n = 0;
    const std::size_t m = bl.direct_max_m + 9, k = bl.kc + 37;
    const std::vector<T> bias = test::uniform<T>(m, 3);
    for (std::size_t n : {std::size_t(1), std::size_t(2), bl.narrow_nr + 1, bl.nr - 1, bl.nr, active.wide_nr})
      for (Trans ta : kTrans)
        for (bool fused : {false, true}) {
          CAPTURE(n);
          CAPTURE(ta == Trans::yes);
          CAPTURE(fused);
          const Operand<T> a(ta == Trans::no ? m : k, ta == Trans::no ? k : m, 1, 23 + n), b(k, n, 2, 29 + n);
          Epilogue<T> epilogue;
          if (fused) {
            epilogue.bias = bias.data();
            epilogue.activation = Activation::tanh;
          }
          std::vector<Operand<T>> c(3, Operand<T>(m, n, 0, 7));
          const detail::GemmKernels<T>* tables[3] = {&active, &direct, &packed};
          for (int t = 0; t < 3; ++t)
            detail::gemm_blocked(*tables[t], ta, Trans::no, m, n, k, T(1), a.data.data(), a.ld, b.data.data(), b.ld,
                                 T(0.5), c[t].data.data(), c[t].ld, epilogue);
          CHECK(std::equal(c[0].data.begin(), c[0].data.end(), c[1].data.begin()));
          // Up to skinny_max columns (or Aᵀ·B in the skinny kernel's axpy form) neither table runs
          // the direct or packed path: the skinny kernel comes first in both.
          const bool skinny = n <= bl.skinny_max || (ta == Trans::yes && n <= bl.skinny_axpy_max);
          if (!skinny) CHECK_FALSE(std::equal(c[0].data.begin(), c[0].data.end(), c[2].data.begin()));
        }
    // Against the reference through the public gemm, past the row limit, with the remainder rows of a tile.
    for (Trans ta : kTrans)
      for (std::size_t n : {bl.nr - 3, bl.nr, active.wide_nr})
        check_against_reference<T>({ta, Trans::no, bl.direct_max_m + bl.mr + 3, n, bl.kc + 5, 1.0, 0.5});
  });
}

TEST_CASE_TEMPLATE("gemm with beta = 0 never reads C and k = 0 or alpha = 0 only scales C", T, float, double) {
  const T nan = std::numeric_limits<T>::quiet_NaN();
  test::for_each_isa([&](Isa) {
    for (std::size_t m : {std::size_t(5), std::size_t(200), std::size_t(300)}) {  // direct and packed paths
      CAPTURE(m);
      const std::size_t n = 37, k = 300;
      std::vector<T> a_nan(m * k, nan), b_nan(k * n, nan);
      std::vector<T> c = test::uniform<T>(m * n, 9);
      const std::vector<T> c0 = c;
      gemm(Trans::no, Trans::no, m, n, std::size_t(0), T(1), a_nan.data(), k, b_nan.data(), n, T(-2), c.data(), n);
      for (std::size_t i = 0; i < m * n; ++i) REQUIRE(c[i] == T(-2) * c0[i]);
      gemm(Trans::no, Trans::no, m, n, k, T(0), a_nan.data(), k, b_nan.data(), n, T(0.5), c.data(), n);
      for (std::size_t i = 0; i < m * n; ++i) REQUIRE(c[i] == T(-1) * c0[i]);
      std::fill(c.begin(), c.end(), nan);
      gemm(Trans::no, Trans::no, m, n, std::size_t(0), T(1), a_nan.data(), k, b_nan.data(), n, T(0), c.data(), n);
      for (std::size_t i = 0; i < m * n; ++i) REQUIRE(c[i] == T(0));
      // Empty m or n leave C untouched; null pointers are fine then.
      gemm<T>(Trans::no, Trans::no, 0, n, k, T(1), nullptr, k, b_nan.data(), n, T(0), nullptr, n);
      gemm<T>(Trans::no, Trans::no, m, 0, k, T(1), a_nan.data(), k, nullptr, 0, T(0), nullptr, 0);
      // k = 0 scales C by beta even for alpha = ±Inf or NaN (alpha times an empty sum is 0, as CBLAS).
      for (const T alpha : {std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(), nan}) {
        CAPTURE(alpha);
        std::vector<T> fast = c0, ref = c0;
        gemm(Trans::yes, Trans::no, m, n, std::size_t(0), alpha, a_nan.data(), m, b_nan.data(), n, T(3), fast.data(), n);
        gemm_ref(Trans::yes, Trans::no, m, n, std::size_t(0), alpha, a_nan.data(), m, b_nan.data(), n, T(3), ref.data(), n);
        for (std::size_t i = 0; i < m * n; ++i) REQUIRE(fast[i] == T(3) * c0[i]);
        CHECK(ref == fast);
      }
    }
  });
}

namespace {

/** Every activation in both accuracy tiers. */
std::vector<std::pair<Activation, Accuracy>> epilogue_cases(std::span<const Activation> activations) {
  std::vector<std::pair<Activation, Accuracy>> cases;
  for (Accuracy accuracy : {Accuracy::precise, Accuracy::fast})
    for (Activation f : activations) cases.emplace_back(f, accuracy);
  return cases;
}

}  // namespace

TEST_CASE_TEMPLATE("the fused epilogue equals an unfused gemm followed by bias and activation, in both tiers", T, float,
                   double) {
  constexpr auto all = enum_values<Activation>();
  test::for_each_isa([&](Isa) {
    const auto& bl = detail::active_gemm_kernels<T>().blocking;
    struct Shape {
      std::size_t m, n, k;
    };
    // Direct path; packed path with several K blocks (the epilogue belongs to the last one only).
    for (const Shape s : {Shape{bl.mr + 1, bl.nr * 3 + 1, 19}, Shape{bl.mc + 5, bl.nr * 2 + 3, bl.kc + 7}}) {
      CAPTURE(s.m);
      const Operand<T> a(s.k, s.m, 1, 21);  // op(A) = Aᵀ
      const Operand<T> b(s.k, s.n, 0, 22);
      const auto bias = test::uniform<T>(s.m, 23);
      Operand<T> c0(s.m, s.n, 3, 24);
      Operand<T> unfused = c0;
      gemm(Trans::yes, Trans::no, T(0.75), a.view(), b.view(), T(-0.5), unfused.view());
      for (const auto& f_and_accuracy : epilogue_cases(all)) {
        // Copies, not structured bindings: clang 14 cannot capture those in doctest's CAPTURE lambdas.
        const auto f = f_and_accuracy.first;
        const auto accuracy = f_and_accuracy.second;
        CAPTURE(static_cast<int>(f));
        CAPTURE(accuracy_name(accuracy));
        Operand<T> fused = c0, pre(s.m, s.n, 1, 25);
        Epilogue<T> epilogue{bias.data(), f, T(0.125), pre.view(), accuracy};
        gemm(Trans::yes, Trans::no, T(0.75), a.view(), b.view(), T(-0.5), fused.view(), epilogue);
        // Unfused: Z = C + bias, then activation_forward row by row (the same ISA's lane function).
        std::size_t bad = test::fused_epilogue_mismatches(
            s.m, s.n, unfused.data.data(), unfused.ld, bias.data(), fused.data.data(), fused.ld, pre.data.data(),
            pre.ld, [&](const T* z, T* y, std::size_t n) { activation_forward(f, accuracy, z, y, n, T(0.125)); });
        // ReLU checked from first principles too, so the test does not only trust activation_forward.
        if (f == Activation::relu)
          for (std::size_t i = 0; i < s.m; ++i)
            for (std::size_t j = 0; j < s.n; ++j) {
              const T z = unfused.data[i * unfused.ld + j] + bias[i];
              if (fused.data[i * fused.ld + j] != (z > T(0) ? z : T(0))) ++bad;
            }
        CHECK(bad == 0);
        // Without pre_activation the result is the same.
        Operand<T> plain = c0;
        gemm(Trans::yes, Trans::no, T(0.75), a.view(), b.view(), T(-0.5), plain.view(),
             Epilogue<T>{bias.data(), f, T(0.125), {}, accuracy});
        CHECK(plain.data == fused.data);
      }
    }
  });
}

TEST_CASE("the fused epilogue may write pre_activation into c itself") {
  // Z is stored first and then overwritten by act(Z): c ends up holding the activation.
  const std::size_t m = 9, n = 37, k = 5;
  const auto a = test::uniform<float>(m * k, 41), b = test::uniform<float>(k * n, 42);
  const auto bias = test::uniform<float>(m, 43);
  std::vector<float> separate(m * n, std::numeric_limits<float>::quiet_NaN()), pre(m * n), same(m * n, 1.0F);
  const MatrixView<const float> av{a.data(), m, k, k}, bv{b.data(), k, n, n};
  gemm(Trans::no, Trans::no, 1.0f, av, bv, 0.0f, MatrixView<float>{separate.data(), m, n, n},
       Epilogue<float>{bias.data(), Activation::tanh, 0.01f, MatrixView<float>{pre.data(), m, n, n}});
  const MatrixView<float> cv{same.data(), m, n, n};
  gemm(Trans::no, Trans::no, 1.0f, av, bv, 0.0f, cv, Epilogue<float>{bias.data(), Activation::tanh, 0.01f, cv});
  CHECK(same == separate);
  CHECK(pre != separate);
}
